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

"""wilor_source over real DDS (loopback only): images + camera_info, and into wilor_node."""

import statistics

import cv2
from fixture_paths import FIXTURES
import numpy as np
import pytest
from ros_harness import PROGRAMS, REPO, ros_env, RosProcess

pytestmark = pytest.mark.ros

# Written in this order on purpose: natural name order is img1, img2, img10.
FOLDER_VALUES = {'img10.png': 200, 'img1.png': 40, 'img2.png': 120}


def write_folder(folder):
    """Write the folder images (distinct grey levels); return the values in name order."""
    folder.mkdir()
    for name, value in FOLDER_VALUES.items():
        image = np.full((48, 64, 3), value, np.uint8)
        image[0, 0] = (value, value + 1, value + 2)  # B, G, R of the first pixel
        cv2.imwrite(str(folder / name), image)
    (folder / 'notes.txt').write_text('not an image, ignored')
    return [FOLDER_VALUES[name] for name in ('img1.png', 'img2.png', 'img10.png')]


def run_source_and_listener(params, count, env=None):
    """Start the listener, then wilor_source with ``params``; return the listener's summary."""
    env = env or ros_env()
    listener = RosProcess([PROGRAMS / 'source_listener.py', count, 30], env)
    source = None
    try:
        listener.wait_for_line(lambda line: line == 'READY', timeout=30)
        args = ['-m', 'wilor_ros.ros.source_node', '--ros-args']
        for name, value in params.items():
            args += ['-p', f'{name}:={value}']
        source = RosProcess(args, env)
        summary = listener.wait_for_json('images', timeout=40)
        assert listener.finish() == 0, listener.output
    finally:
        listener.stop()
        if source is not None:
            source.stop()
    return summary, source


def test_image_folder_is_published_with_matching_camera_info(tmp_path):
    order = write_folder(tmp_path / 'frames')
    rate = 20.0
    summary, source = run_source_and_listener(
        {'source': tmp_path / 'frames', 'rate': rate, 'loop': True, 'frame_id': 'test_optical'},
        count=12)
    images, infos = summary['images'], summary['infos']
    assert len(images) == 12
    for image in images:
        assert (image['encoding'], image['width'], image['height']) == ('bgr8', 64, 48)
        assert image['step'] == 64 * 3 and image['size'] == 64 * 48 * 3
        assert image['frame_id'] == 'test_optical'
        # Same stamp and frame_id on the camera_info; heuristic fx = fy = max(W, H).
        info = infos[str(image['stamp'])]
        assert info['frame_id'] == 'test_optical'
        assert (info['width'], info['height']) == (64, 48)
        assert info['k'] == [64.0, 0.0, 31.5, 0.0, 64.0, 23.5, 0.0, 0.0, 1.0]
    values = [image['first_pixel'][0] for image in images]
    assert all(image['first_pixel'] == [v, v + 1, v + 2] for image, v in zip(images, values))
    # Frames cycle through the folder in natural name order (loop=true).
    start = order.index(values[0])
    assert values == [order[(start + i) % 3] for i in range(12)]
    stamps = [image['stamp'] for image in images]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    interval = statistics.median(np.diff(stamps) / 1e9)
    assert 0.5 / rate < interval < 2.0 / rate
    assert any('GUESSED camera_info' in line for line in source.lines)


def test_video_with_given_intrinsics(tmp_path):
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (80, 60))
    assert writer.isOpened()
    for index in range(4):
        writer.write(np.full((60, 80, 3), 30 + 50 * index, np.uint8))
    writer.release()
    summary, _ = run_source_and_listener(
        {'source': video, 'rate': 25, 'loop': True, 'fx': 500, 'fy': 510.5, 'cx': 41.0,
         'cy': 29.5}, count=6)
    images, infos = summary['images'], summary['infos']
    assert len(images) == 6
    for image in images:
        assert (image['width'], image['height'], image['frame_id']) == (80, 60,
                                                                        'camera_optical_frame')
        assert infos[str(image['stamp'])]['k'] == [500.0, 0.0, 41.0, 0.0, 510.5, 29.5,
                                                   0.0, 0.0, 1.0]
    # MJPG is lossy: the decoded grey levels stay near the written ones.
    written = [30 + 50 * index for index in range(4)]
    for image in images:
        assert min(abs(image['first_pixel'][0] - value) for value in written) <= 6


@pytest.mark.parametrize('source', ['missing_folder', 'empty_folder', 'broken.mp4'])
def test_unopenable_source_exits_non_zero(tmp_path, source):
    path = tmp_path / source
    if source == 'empty_folder':
        path.mkdir()
    elif source == 'broken.mp4':
        path.write_bytes(b'not a video' * 100)
    process = RosProcess(['-m', 'wilor_ros.ros.source_node', '--ros-args', '-p',
                          f'source:={path}'], ros_env())
    assert process.finish(timeout=30) == 1
    assert 'cannot open the source' in process.output and str(path) in process.output


@pytest.mark.parametrize('parameter', ['rate:=-5.0', 'fx:=-3', 'image_reliability:=sometimes'])
def test_invalid_parameter_exits_non_zero_naming_it(tmp_path, parameter):
    process = RosProcess(['-m', 'wilor_ros.ros.source_node', '--ros-args', '-p',
                          f'source:={tmp_path}', '-p', parameter], ros_env())
    assert process.finish(timeout=30) == 1
    assert parameter.split(':=')[0] in process.output and 'Traceback' not in process.output


def test_source_feeds_wilor_node(tmp_path):
    pytest.importorskip('wilor_ros.ros.wilor_node')
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    frames = tmp_path / 'frames'
    frames.mkdir()
    cv2.imwrite(str(frames / 'hands.png'), image)
    env = ros_env()
    out = tmp_path / 'hands.bin'
    listener = RosProcess([PROGRAMS / 'hands_listener.py', out], env)
    processes = [listener]
    try:
        listener.wait_for_line(lambda line: line == 'READY', timeout=30)
        processes.append(RosProcess([
            '-m', 'wilor_ros.ros.wilor_node', '--ros-args', '-p', 'autostart:=true',
            '-p', f'detector_path:={FIXTURES / "detector" / "detector.pt"}',
            '-p', f'reconstructor_path:={FIXTURES / "wilor" / "checkpoint.ckpt"}',
            '-p', 'device:=cpu', '-p', 'image_reliability:=reliable'], env, cwd=REPO))
        # Reliable at both ends, as scripts/run.sh runs a file source.
        processes.append(RosProcess([
            '-m', 'wilor_ros.ros.source_node', '--ros-args', '-p', f'source:={frames}',
            '-p', 'rate:=2.0', '-p', 'loop:=true', '-p', 'frame_id:=cam_optical',
            '-p', 'image_reliability:=reliable'], env))
        listener.wait_for_line(lambda line: line == 'RECEIVED', timeout=60)
        assert listener.finish() == 0, listener.output
    finally:
        for process in processes:
            process.stop()
    from rclpy.serialization import deserialize_message
    from wilor_msgs.msg import HandArray

    hands = deserialize_message(out.read_bytes(), HandArray)
    assert hands.header.frame_id == 'cam_optical'
    assert len(hands.hands) > 0
    # The source published the heuristic camera_info, which wilor_node used for cam_t.
    assert all(abs(hand.focal_length - max(image.shape[:2])).max() < 1e-3 for hand in hands.hands)
    assert all(hand.focal_source == hand.FOCAL_CAMERA_INFO for hand in hands.hands)


def paced_run(tmp_path, count, **consumer_options):
    """Run wilor_source paced on a slow consumer's acknowledgements; return its records."""
    order = write_folder(tmp_path / 'frames')
    env = ros_env()
    arguments = [PROGRAMS / 'pace_consumer.py', count]
    for name, value in consumer_options.items():
        arguments += [f'--{name.replace("_", "-")}'] + ([] if value is True else [value])
    consumer = RosProcess(arguments, env)
    source = None
    try:
        consumer.wait_for_line(lambda line: line == 'READY', timeout=30)
        source = RosProcess(['-m', 'wilor_ros.ros.source_node', '--ros-args',
                             '-p', f'source:={tmp_path / "frames"}', '-p', 'rate:=50.0',
                             '-p', 'pace_topic:=hands', '-p', 'pace_timeout:=1.5'], env)
        records = [consumer.wait_for_json('image', timeout=30) for _ in range(count)]
        assert consumer.finish(timeout=30) == 0, consumer.output
        if count == len(order):
            assert source.finish(timeout=30) == 0, source.output   # the folder ended
    finally:
        consumer.stop()
        if source is not None:
            source.stop()
    return order, records, source


def test_paced_source_waits_for_each_frame_and_stamps_media_time(tmp_path):
    order, records, source = paced_run(tmp_path, count=3, delay=0.4)
    # Every frame once, in order, although the consumer is 20 times slower than the rate.
    assert [record['first_pixel'] for record in records] == order
    gaps = np.diff([record['at'] for record in records])
    assert (gaps >= 0.4).all(), gaps
    # Stamps are the frames' places in the input (1 / 50 s apart), not the publishing times.
    assert np.diff([record['image'] for record in records]).tolist() == [20_000_000] * 2
    assert any('end of' in line and 'after 3 frames' in line for line in source.lines)


def test_paced_source_sends_an_unacknowledged_frame_again(tmp_path):
    order, records, source = paced_run(tmp_path, count=4, delay=0.1, ignore_first=True)
    # The first frame went out twice (same stamp) after pace_timeout, then the rest.
    assert [record['first_pixel'] for record in records] == [order[0]] + order
    assert records[0]['image'] == records[1]['image']
    assert records[1]['at'] - records[0]['at'] >= 1.5
    assert any('sending it again' in line for line in source.lines)
