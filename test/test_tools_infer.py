# Copyright 2026 The wilor_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
wilor-infer on image folders, videos and MCAP bags with the fixture weights.

Every JSON record must hold exactly what HandPipeline returns for the same frame (built here
independently of the CLI); a bag written back must hold one HandArray per good image.
"""

import functools
import json
import pathlib

from bad_weights import BAD_WEIGHT_KINDS, malicious_marker, write_bad_weights
import cv2
from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest

from wilor_ros.hand_schema import TRANSLATION_SOURCES
from wilor_ros.tools import infer as infer_cli
from wilor_ros.tracking import HandTracker

# Fixture image: 8 detections at confidence 0.25 (detector fixture README).
CONF, IOU, RESCALE, MAX_HANDS = 0.25, 0.7, 2.0, 10
WEIGHT_ARGS = ['--detector', str(DETECTOR), '--reconstructor', str(RECONSTRUCTOR),
               '--device', 'cpu', '--conf', str(CONF), '--iou', str(IOU), '--quiet']


@pytest.fixture(scope='module')
def pipe(make_fixture_pipeline):
    """Build the pipeline on the fixture weights, with the thresholds passed to the CLI."""
    return make_fixture_pipeline(conf=CONF, iou=IOU, rescale_factor=RESCALE, max_hands=MAX_HANDS)


@pytest.fixture(scope='module')
def frames():
    """Three distinct BGR frames built from the detector fixture image."""
    image = np.load(DETECT_NPZ)['image']
    return [image, np.ascontiguousarray(image[:, ::-1]), np.roll(image, 40, axis=1)]


def expected_hands(pipe, image, camera_matrix=None):
    """Return what the pipeline itself gives, through the same JSON round trip."""
    hands = pipe(image, camera_matrix=camera_matrix, compute_vertices=False)
    return json.loads(json.dumps([hand.to_dict() for hand in hands]))


def expected_batch(pipe, images):
    """Return what one batched pipeline call gives per image (JSON round trip)."""
    results = pipe.process_batch(images, compute_vertices=False)
    return [json.loads(json.dumps([hand.to_dict() for hand in hands])) for hands in results]


def run_cli(capsys, *args):
    """Run wilor-infer in this process; return (exit code, stderr text, stdout text)."""
    code = infer_cli.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def test_image_folder_matches_the_pipeline(pipe, frames, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    for index, image in enumerate(frames):
        cv2.imwrite(str(folder / f'view{index + 1}.png'), image)
    (folder / 'view10.png').write_bytes(b'\x89PNG damaged')  # sorts last, cannot be decoded
    out = tmp_path / 'json'
    code, err, _ = run_cli(capsys, folder, '-o', out, '--batch', 2, *WEIGHT_ARGS)
    assert code == 0, err
    assert 'view10.png' in err and 'skipped' in err
    files = sorted(out.glob('*.json'))
    assert [f.name for f in files] == ['frame_000000.json', 'frame_000001.json',
                                       'frame_000002.json']
    # --batch 2: frames 0 and 1 went through one reconstructor call, frame 2 alone (batch
    # composition changes float rounding, so the reference is grouped the same way).
    expected = expected_batch(pipe, frames[:2]) + [expected_hands(pipe, frames[2])]
    for index, (path, image) in enumerate(zip(files, frames)):
        record = json.loads(path.read_text())
        assert record['frame'] == index
        assert record['source'] == str(folder / f'view{index + 1}.png')
        assert record['image_size'] == [image.shape[1], image.shape[0]]
        assert record['stamp'] is None and record['camera_matrix'] is None
        assert record['hands'] == expected[index]
    assert sum(len(hands) for hands in expected) > 0


def test_video_matches_the_decoded_frames(pipe, frames, tmp_path, capsys):
    video = tmp_path / 'clip.avi'
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (width, height))
    assert writer.isOpened()
    for image in frames:
        writer.write(image)
    writer.release()
    capture = cv2.VideoCapture(str(video))
    decoded = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        decoded.append(image)
    capture.release()
    assert len(decoded) == len(frames)

    out = tmp_path / 'hands.jsonl'
    overlay = tmp_path / 'overlay.avi'
    code, err, _ = run_cli(capsys, video, '-o', out, '--jsonl', '--track',
                           '--overlay', overlay, *WEIGHT_ARGS)
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r['frame'] for r in records] == [0, 1, 2]
    # With --track the tracker decides each hand's side before its crop is mirrored (stable
    # handedness), so the reference runs the pipeline with the same side chooser.
    tracker = HandTracker()
    for index, (record, image) in enumerate(zip(records, decoded)):
        # 5 fps video: frame i is at i / 5 s.
        assert record['stamp'] == {'sec': index // 5, 'nanosec': (index % 5) * 200_000_000}
        stamp = index / 5.0
        hands = tracker.update(pipe(image, compute_vertices=False, sides=functools.partial(
            tracker.resolve_sides, stamp=stamp)), stamp)
        expected = json.loads(json.dumps([hand.to_dict() for hand in hands]))
        assert len(record['hands']) == len(expected)
        for got, want in zip(record['hands'], expected):
            assert got['id'] != ''
            want['id'] = got['id']
            assert got == want
    capture = cv2.VideoCapture(str(overlay))
    assert capture.isOpened()
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (width, height)
    capture.release()


def _image_msg(image, stamp_ns, frame_id):
    height, width = image.shape[:2]
    return {'header': {'stamp': {'sec': stamp_ns // 1_000_000_000,
                                 'nanosec': stamp_ns % 1_000_000_000},
                       'frame_id': frame_id},
            'height': height, 'width': width, 'encoding': 'bgr8', 'is_bigendian': 0,
            'step': width * 3, 'data': image.tobytes()}


def write_bag(path, frames, camera_k):
    """Camera_info then images (one damaged) on /cam; returns (image stamps, log times)."""
    from mcap_ros2.writer import Writer

    # Imported where used: the ROS layer needs rclpy, and the ROS-free run of the core
    # (scripts/test_core_py310.sh) still collects this module.
    from wilor_ros.ros import bag_writer

    stamps, log_times = [], []
    with open(path, 'wb') as stream:
        writer = Writer(stream)
        image_schema = writer.register_msgdef(
            'sensor_msgs/msg/Image', bag_writer.message_definition('sensor_msgs/msg/Image'))
        info_schema = writer.register_msgdef(
            'sensor_msgs/msg/CameraInfo',
            bag_writer.message_definition('sensor_msgs/msg/CameraInfo'))
        info = {'header': {'stamp': {'sec': 100, 'nanosec': 0}, 'frame_id': 'cam_optical'},
                'height': 480, 'width': 640, 'distortion_model': 'plumb_bob', 'd': [0.0] * 5,
                'k': camera_k, 'r': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
                'p': [0.0] * 12}
        writer.write_message('/cam/camera_info', info_schema, info, log_time=99_000_000_000,
                             publish_time=99_000_000_000)
        damaged = dict(_image_msg(frames[0], 100_500_000_000, 'cam_optical'), data=b'\x00' * 10)
        messages = [_image_msg(frames[0], 100_000_000_000, 'cam_optical'), damaged,
                    _image_msg(frames[1], 101_250_000_000, 'cam_optical'),
                    _image_msg(frames[2], 102_000_000_007, 'cam_optical')]
        for index, message in enumerate(messages):
            log_time = 200_000_000_000 + index * 10_000_000
            writer.write_message('/cam/image_raw', image_schema, message, log_time=log_time,
                                 publish_time=log_time)
            if message is not damaged:
                stamp = message['header']['stamp']
                stamps.append(stamp['sec'] * 1_000_000_000 + stamp['nanosec'])
                log_times.append(log_time)
        writer.finish()
    return stamps, log_times


@pytest.mark.ros
def test_bag_matches_the_pipeline_and_writes_hand_arrays(pipe, frames, tmp_path, capsys):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    bag = tmp_path / 'input.mcap'
    camera_k = [600.0, 0.0, 320.5, 0.0, 605.0, 240.5, 0.0, 0.0, 1.0]
    stamps, log_times = write_bag(bag, frames, camera_k)
    out = tmp_path / 'hands.jsonl'
    out_bag = tmp_path / 'hands.mcap'
    code, err, _ = run_cli(capsys, bag, '-o', out, '--jsonl', '--out-bag', out_bag, *WEIGHT_ARGS)
    assert code == 0, err
    assert 'frame 1 (' in err and 'skipped' in err  # the damaged image
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r['frame'] for r in records] == [0, 2, 3]
    camera = np.array(camera_k).reshape(3, 3)
    for record, image, stamp in zip(records, frames, stamps):
        assert record['stamp'] == {'sec': stamp // 1_000_000_000,
                                   'nanosec': stamp % 1_000_000_000}
        assert record['frame_id'] == 'cam_optical'
        assert record['camera_matrix'] == camera.tolist()
        assert record['hands'] == expected_hands(pipe, image, camera)

    with open(out_bag, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        decoded = list(reader.iter_decoded_messages())
    # First the mesh triangles (published once, transient local, by the node), so the bag can
    # rebuild the meshes; logged with the first frame.
    (faces_schema, faces_channel, faces_message, faces), decoded = decoded[0], decoded[1:]
    assert (faces_schema.name, faces_channel.topic) == ('wilor_msgs/msg/MeshFaces', '/mano_faces')
    assert faces_message.log_time == log_times[0]
    assert faces.num_vertices == 778
    np.testing.assert_array_equal(np.array(faces.triangles).reshape(-1, 3), pipe.faces)
    assert [schema.name for schema, _, _, _ in decoded] == ['wilor_msgs/msg/HandArray'] * 3
    assert {channel.topic for _, channel, _, _ in decoded} == {'/hands'}
    for (_, _, message, msg), record, stamp, log_time in zip(
            decoded, records, stamps, log_times):
        assert message.log_time == log_time and message.publish_time == log_time
        assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == stamp
        assert msg.header.frame_id == 'cam_optical'
        assert len(msg.hands) == len(record['hands'])
        for hand, want in zip(msg.hands, record['hands']):
            assert hand.score == pytest.approx(want['score'], abs=1e-6)
            assert np.allclose([[p.x, p.y, p.z] for p in hand.keypoints_3d],
                               [[p['x'], p['y'], p['z']] for p in want['keypoints_3d']],
                               atol=1e-6)


@pytest.mark.ros
def test_compressed_images_from_a_bag_without_summary(pipe, frames, tmp_path, capsys):
    from mcap.reader import make_reader
    from mcap.writer import IndexType, Writer
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CompressedImage

    from wilor_ros.ros import bag_writer

    # As a killed recorder leaves it: no statistics, channels or indexes in a summary.
    bag = tmp_path / 'compressed.mcap'
    with open(bag, 'wb') as stream:
        writer = Writer(stream, index_types=IndexType.NONE, repeat_channels=False,
                        repeat_schemas=False, use_statistics=False, use_summary_offsets=False)
        writer.start(profile='ros2')
        schema = writer.register_schema(
            'sensor_msgs/msg/CompressedImage', 'ros2msg',
            bag_writer.message_definition('sensor_msgs/msg/CompressedImage').encode())
        channel = writer.register_channel('/cam/image_raw/compressed', 'cdr', schema)
        for index, image in enumerate(frames[:2]):
            msg = CompressedImage(format='png', data=cv2.imencode('.png', image)[1].tobytes())
            msg.header.stamp.sec = 50 + index
            msg.header.frame_id = 'cam'
            writer.add_message(channel, log_time=index + 1, data=serialize_message(msg),
                               publish_time=index + 1)
        writer.finish()
    with open(bag, 'rb') as stream:
        summary = make_reader(stream).get_summary()
    assert summary is None or not summary.channels
    code, err, out = run_cli(capsys, bag, '-o', '-', *WEIGHT_ARGS)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r['stamp'] for r in records] == [{'sec': 50, 'nanosec': 0}, {'sec': 51, 'nanosec': 0}]
    for record, image in zip(records, frames):
        assert record['hands'] == expected_hands(pipe, image)


def test_camera_matrix_option_overrides_the_heuristic(pipe, frames, tmp_path, capsys):
    image_path = tmp_path / 'one.png'
    cv2.imwrite(str(image_path), frames[0])
    yaml_file = tmp_path / 'camera.yaml'
    yaml_file.write_text('image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n'
                         '  cols: 3\n  data: [700.0, 0.0, 300.0, 0.0, 710.0, 250.0, 0, 0, 1]\n')
    for option in ('700,710,300,250', yaml_file):
        out = tmp_path / 'out.jsonl'
        code, err, _ = run_cli(capsys, image_path, '-o', out, '--jsonl',
                               '--camera-matrix', option, *WEIGHT_ARGS)
        assert code == 0, err
        record = json.loads(out.read_text())
        camera = np.array([[700.0, 0, 300.0], [0, 710.0, 250.0], [0, 0, 1]])
        assert record['camera_matrix'] == camera.tolist()
        assert record['hands'] == expected_hands(pipe, frames[0], camera)
        assert all(hand['focal_length'] == [700.0, 710.0] for hand in record['hands'])


@pytest.mark.parametrize('name,content,message', [
    ('missing.mp4', None, 'does not exist'),
    ('broken.mp4', b'not a video' * 50, 'cannot open video'),
    ('empty', 'dir', 'no images in folder'),
    ('notes.txt', b'hello', 'cannot tell what'),
    ('broken.mcap', b'\x89MCAP0\r\n' + b'\x00' * 40, 'cannot read MCAP bag'),
    ('one.png', b'not a png', 'cannot decode image'),
])
def test_unreadable_input_gives_a_clear_error(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content == 'dir':
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, err, _ = run_cli(capsys, path, '-o', tmp_path / 'out', *WEIGHT_ARGS)
    assert code == 1
    assert message in err and str(path) in err


def test_missing_weights_are_reported(tmp_path, capsys, frames):
    image_path = tmp_path / 'one.png'
    cv2.imwrite(str(image_path), frames[0])
    code, err, _ = run_cli(capsys, image_path, '--detector', tmp_path / 'nothing.pt',
                           '--reconstructor', RECONSTRUCTOR, '-o', tmp_path / 'out')
    assert code == 1
    assert 'detector weights not found' in err and 'wilor-download' in err


@pytest.mark.parametrize('network', ['detector', 'reconstructor'])
@pytest.mark.parametrize('kind', BAD_WEIGHT_KINDS)
def test_bad_weights_give_one_clear_line(tmp_path, capsys, frames, network, kind):
    image_path = tmp_path / 'one.png'
    cv2.imwrite(str(image_path), frames[0])
    weights = write_bad_weights(tmp_path, kind, network)
    paths = {'detector': DETECTOR, 'reconstructor': RECONSTRUCTOR, network: weights}
    code, err, out = run_cli(capsys, image_path, '--detector', paths['detector'],
                             '--reconstructor', paths['reconstructor'], '--device', 'cpu',
                             '-o', tmp_path / 'out')
    assert code == 1 and out == ''
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('wilor-infer: error: ') and str(weights) in lines[0]
    assert 'wilor-download' in lines[0]
    assert not malicious_marker(tmp_path).exists()


@pytest.mark.ros
def test_message_definition_lists_every_dependency_once():
    from wilor_ros.ros import bag_writer

    text = bag_writer.message_definition('wilor_msgs/msg/HandArray')
    headers = [line for line in text.splitlines() if line.startswith('MSG: ')]
    assert sorted(headers) == ['MSG: builtin_interfaces/Time', 'MSG: geometry_msgs/Point',
                               'MSG: geometry_msgs/Vector3', 'MSG: std_msgs/Header',
                               'MSG: wilor_msgs/Hand']
    assert text.count('=' * 80 + '\nMSG: ') == 5
    assert text.startswith((pathlib.Path(__file__).parent.parent / 'wilor_msgs' / 'msg'
                            / 'HandArray.msg').read_text().rstrip('\n'))


@pytest.mark.ros
def test_depth_topic_of_a_bag_places_hands_at_the_measured_depth(pipe, frames, tmp_path,
                                                                 capsys):
    from mcap_ros2.writer import Writer

    from wilor_ros.camera import intrinsics_from_matrix
    from wilor_ros.depth_fusion import rasterize_depth
    from wilor_ros.ros import bag_writer

    camera_k = [600.0, 0.0, 319.5, 0.0, 600.0, 239.5, 0.0, 0.0, 1.0]
    camera = np.array(camera_k).reshape(3, 3)
    bag = tmp_path / 'rgbd.mcap'
    with open(bag, 'wb') as stream:
        writer = Writer(stream)
        schemas = {name: writer.register_msgdef(name, bag_writer.message_definition(name))
                   for name in ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo')}
        info = {'header': {'stamp': {'sec': 10, 'nanosec': 0}, 'frame_id': 'cam'},
                'height': 480, 'width': 640, 'distortion_model': 'plumb_bob', 'd': [0.0] * 5,
                'k': camera_k, 'r': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], 'p': [0.0] * 12}
        writer.write_message('/cam/camera_info', schemas['sensor_msgs/msg/CameraInfo'], info,
                             log_time=1, publish_time=1)
        for index, image in enumerate(frames[:2]):
            stamp = 10_000_000_000 + index * 100_000_000
            log_time = 2 + 10 * index
            writer.write_message('/cam/image_raw', schemas['sensor_msgs/msg/Image'],
                                 _image_msg(image, stamp, 'cam'), log_time=log_time,
                                 publish_time=log_time)
            if index == 1:
                continue  # the second frame has no depth image
            first = pipe(image, camera_matrix=camera)[0]
            truth = rasterize_depth(first.vertices * 1.2, pipe.faces,
                                    intrinsics_from_matrix(camera), image.shape)
            millimetres = np.where(np.isfinite(truth), np.rint(truth * 1000), 0).astype('<u2')
            # Stamped 5 ms after its image and logged after it: the reader must look ahead.
            depth = dict(_image_msg(image, stamp + 5_000_000, 'cam'), encoding='16UC1',
                         step=640 * 2, data=millimetres.tobytes())
            writer.write_message('/cam/depth', schemas['sensor_msgs/msg/Image'], depth,
                                 log_time=log_time + 1, publish_time=log_time + 1)
        writer.finish()
    out = tmp_path / 'rgbd.jsonl'
    # The depth topic is not a colour candidate: the only other image topic is chosen.
    code, err, _ = run_cli(capsys, bag, '--depth-topic', '/cam/depth', '-o', out, '--jsonl',
                           *WEIGHT_ARGS)
    assert code == 0, err
    with_depth, without = [json.loads(line) for line in out.read_text().splitlines()]
    # The JSON has Hand.msg's encoding: translation_source is the uint8 constant.
    assert with_depth['hands'][0]['translation_source'] == TRANSLATION_SOURCES['depth']
    assert with_depth['hands'][0]['depth_scale'] == pytest.approx(1.2, rel=5e-3)
    assert len(with_depth['hands'][0]['keypoint_confidence']) == 21
    assert without['hands'] == expected_hands(pipe, frames[1], camera)
    assert {hand['translation_source'] for hand in without['hands']} == {
        TRANSLATION_SOURCES['camera_info']}
    code, err, _ = run_cli(capsys, bag, '--topic', '/cam/image_raw', '--depth-topic',
                           '/cam/nothing', *WEIGHT_ARGS)
    assert code == 1 and 'no sensor_msgs/msg/Image topic /cam/nothing' in err


def test_sigterm_stops_with_finished_outputs_and_no_traceback(frames, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    video = tmp_path / 'long.avi'
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (width, height))
    for index in range(300):
        writer.write(frames[index % len(frames)])
    writer.release()
    out = tmp_path / 'hands.jsonl'
    process = subprocess.Popen([sys.executable, '-m', 'wilor_ros.tools.infer', str(video), '-o',
                                str(out), '--jsonl', '--overlay', str(tmp_path / 'o.avi'),
                                *WEIGHT_ARGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert 'Traceback' not in err and 'wilor-infer: interrupted' in err
    # What was written is complete: whole JSON lines, a readable overlay video.
    lines = out.read_text().splitlines()
    assert 0 < len(lines) < 300 and all(json.loads(line)['hands'] is not None for line in lines)
    capture = cv2.VideoCapture(str(tmp_path / 'o.avi'))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) >= 1


def test_overlap_gives_the_same_records(frames, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    for index, image in enumerate(frames + [np.roll(frames[0], 80, axis=0)]):
        cv2.imwrite(str(folder / f'view{index}.png'), image)
    (folder / 'view9.png').write_bytes(b'\x89PNG damaged')
    for options in (['--batch', 2], ['--track']):
        outputs = []
        for overlap in ([], ['--overlap']):
            out = tmp_path / f'{len(outputs)}{options[0]}.jsonl'
            code, err, _ = run_cli(capsys, folder, '-o', out, '--jsonl', *options, *overlap,
                                   *WEIGHT_ARGS)
            assert code == 0, err
            assert 'view9.png' in err and 'skipped' in err
            outputs.append([json.loads(line) for line in out.read_text().splitlines()])
        assert [r['frame'] for r in outputs[1]] == [0, 1, 2, 3]
        assert outputs[0] == outputs[1]
        assert sum(len(r['hands']) for r in outputs[1]) > 0
