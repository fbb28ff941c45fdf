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
wilor-infer on multi-camera bags: several --topic, --fuse FRAME, poses from /tf_static or a file.

Known truth: three cameras of a synthetic scene (bench/multiview_scenes.py) whose poses are
written into the bag's /tf_static (one through a chain of two transforms) or an extrinsics file;
a stand-in pipeline gives each image the scene's view of it, so the fused records can be judged
against the true hands and the single-camera ones against the true poses. The fixture networks
run the same command on real pixels (random weights: plumbing, not accuracy).
"""

import json
import pathlib
import sys

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
from multi_camera_bags import BagCamera, BagImage, write_camera_bag
import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'bench'))
from multiview_scenes import CAMERA_MATRIX, hand_skeleton, look_at  # noqa: E402, I100
from multiview_scenes import TrueHand, view_hand  # noqa: E402

from scipy.spatial.transform import Rotation  # noqa: E402, I100

from wilor_ros.bag_cameras import camera_names  # noqa: E402
from wilor_ros.stamp_batches import StampBatches  # noqa: E402
from wilor_ros.tools import infer as infer_cli  # noqa: E402

# Three cameras 1 m from the origin, 0.5-0.7 m apart, looking at it (as test_multiview.py).
POSES = [look_at(np.array([np.cos(a), np.sin(a), 0.3]), np.zeros(3))
         for a in np.radians([0.0, 35.0, 75.0])]
NAMES = ['cam_a', 'cam_b', 'rig/cam_c']
CAMERAS = [BagCamera(f'/{name}/image_raw', f'{name.replace("/", "_")}_optical', CAMERA_MATRIX)
           for name in NAMES]
# rig/cam_c through a chain, as a robot's URDF gives it: world -> rig_base -> its optical frame.
RIG_BASE = np.eye(4)
RIG_BASE[:3, :3] = Rotation.from_euler('z', 20, degrees=True).as_matrix()
RIG_BASE[:3, 3] = [0.1, 0.2, 0.3]
TRANSFORMS = [('world', CAMERAS[0].frame_id, POSES[0]), ('world', CAMERAS[1].frame_id, POSES[1]),
              ('world', 'rig_base', RIG_BASE),
              ('rig_base', CAMERAS[2].frame_id, np.linalg.inv(RIG_BASE) @ POSES[2])]
# (camera, scene, stamp ns, log time ns). Scene 0: one stamp. Scene 1: rig/cam_c 4 ms later and
# logged after cam_a's next image. Scene 2: cam_b 50 ms off, beyond the 10 ms tolerance.
SECOND = 1_000_000_000
SHOTS = [(0, 0, 100 * SECOND, 10), (1, 0, 100 * SECOND, 11), (2, 0, 100 * SECOND, 12),
         (0, 1, 100 * SECOND + 100_000_000, 20), (1, 1, 100 * SECOND + 100_000_000, 21),
         (0, 2, 100 * SECOND + 200_000_000, 30),
         (2, 1, 100 * SECOND + 104_000_000, 31),
         (2, 2, 100 * SECOND + 200_000_000, 32), (1, 2, 100 * SECOND + 250_000_000, 33)]
WEIGHT_ARGS = ['--detector', str(DETECTOR), '--reconstructor', str(RECONSTRUCTOR),
               '--device', 'cpu', '--conf', '0.25', '--quiet']


def scene_views():
    """Return (true hands per scene, views[scene][camera] = that camera's hands)."""
    rng = np.random.default_rng(41)
    truths, views = [], []
    for scene in range(3):
        hands = []
        for is_right, wrist in ((True, [0.0, 0.1, 0.02 * scene]), (False, [0.0, -0.12, 0.05])):
            rotation = Rotation.random(random_state=rng)
            model = hand_skeleton(rng, is_right)
            hands.append(TrueHand(is_right, 0, rotation.apply(model) + wrist, rotation, model))
        truths.append(hands)
        views.append([[view_hand(rng, pose, truth, 2.5) for truth in hands] for pose in POSES])
        assert all(hand is not None for camera in views[-1] for hand in camera)
    return truths, views


class ScenePipeline:
    """Stand-in for HandPipeline: an image's pixel (0, 0) names its camera and scene."""

    faces = np.array([[0, 1, 2]])

    def __init__(self, views):
        self.views = views
        self.calls = []

    def process_batch(self, images, camera_matrices, compute_vertices=True, depths=None,
                      sides=None):
        keys = [(int(image[0, 0, 0]), int(image[0, 0, 1])) for image in images]
        self.calls.append(keys)
        for (camera, _), matrix in zip(keys, camera_matrices):
            np.testing.assert_array_equal(matrix, CAMERA_MATRIX)  # each camera's camera_info
        return [list(self.views[scene][camera]) for camera, scene in keys]


def shot_images(shots=SHOTS):
    images = []
    for camera, scene, stamp, log_time in shots:
        image = np.zeros((48, 64, 3), np.uint8)
        image[0, 0] = (camera, scene, 0)
        images.append(BagImage(camera, image, stamp, log_time))
    return images


def run_cli(capsys, *args):
    code = infer_cli.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


@pytest.fixture
def scene(monkeypatch):
    """Return (truths, pipeline) with wilor-infer building the stand-in pipeline."""
    truths, views = scene_views()
    pipeline = ScenePipeline(views)
    monkeypatch.setattr(infer_cli, 'build_pipeline', lambda args: pipeline)
    return truths, pipeline


def in_world(pose, record_hand):
    points = np.array([[p['x'], p['y'], p['z']] for p in record_hand['keypoints_3d']])
    return points @ pose[:3, :3].T + pose[:3, 3]


def joints(record_hand):
    return np.array([[p['x'], p['y'], p['z']] for p in record_hand['keypoints_3d']])


# --- batching, no ROS ----------------------------------------------------------------------


def test_camera_names_are_the_topic_namespaces():
    assert camera_names(['/cam_a/image_raw', '/rig/cam_c/color/image_raw/compressed']) == {
        '/cam_a/image_raw': 'cam_a', '/rig/cam_c/color/image_raw/compressed': 'rig/cam_c/color'}
    # Not unique, or no namespace: the whole topic.
    assert camera_names(['/cam/image_raw', '/cam/image_rect', '/image']) == {
        '/cam/image_raw': 'cam/image_raw', '/cam/image_rect': 'cam/image_rect',
        '/image': 'image'}


def test_stamp_batches_group_by_stamp_in_log_order():
    batches = StampBatches(['a', 'b', 'c'], tolerance=10)
    released = []
    for camera, stamp in [('a', 0), ('b', 0), ('c', 3), ('a', 100), ('b', 104),
                          ('a', 200), ('c', 104),      # c's frame of stamp 104 comes late
                          ('c', 200), ('b', 250)]:     # b 50 off: no partner
        released += batches.add(camera, stamp, (camera, stamp))
    released += batches.finish()
    assert [[item for _, item in batch] for batch in released] == [
        [('a', 0), ('b', 0), ('c', 3)], [('a', 100), ('b', 104), ('c', 104)],
        [('a', 200), ('c', 200)], [('b', 250)]]
    assert batches.released == 4 and batches.missing == {'b': 1, 'a': 1, 'c': 1}


def test_stamp_batches_keep_every_pair_within_the_tolerance():
    batches = StampBatches(['a', 'b', 'c'], tolerance=10)
    # b is within 10 of a, c within 10 of b but 16 from a: c starts a batch of its own.
    released = batches.add('a', 0, 'a0') + batches.add('b', 8, 'b8') + batches.add('c', 16, 'c')
    released += batches.finish()
    assert [[item for _, item in batch] for batch in released] == [['a0', 'b8'], ['c']]


def test_stamp_batches_release_when_a_camera_is_silent():
    batches = StampBatches(['a', 'b'], tolerance=10, max_open=2)
    released = []
    for index in range(4):
        released += batches.add('a', 100 * index, index)
    # b never sends: the oldest batches go once more than max_open wait, in order.
    assert [[item for _, item in batch] for batch in released] == [[0], [1]]
    assert [[item for _, item in b] for b in batches.finish()] == [[2], [3]]
    assert batches.missing == {'b': 4}


# --- fusion with known truth -----------------------------------------------------------------


@pytest.mark.ros
def test_static_poses_read_from_the_bag_are_the_true_poses(tmp_path):
    from wilor_ros.bag_cameras import read_static_transforms
    from wilor_ros.tools.infer_cameras import camera_poses
    from wilor_ros.tools.infer_outputs import InferError

    bag = tmp_path / 'rig.mcap'
    write_camera_bag(bag, CAMERAS, shot_images()[:1], TRANSFORMS)
    tree = read_static_transforms(bag)
    for camera, truth in zip(CAMERAS, POSES):
        np.testing.assert_allclose(tree.lookup('world', camera.frame_id), truth, atol=1e-9)
    args = infer_cli.build_parser().parse_args([str(bag), '--fuse', 'world'])
    poses = camera_poses(args, bag)
    poses.optical_frames['rig/cam_c'] = CAMERAS[2].frame_id
    np.testing.assert_allclose(poses.pose('rig/cam_c', 100.0), POSES[2], atol=1e-9)
    assert poses.pose('cam_a', 100.0) is None  # its frame_id not seen yet
    args.fuse = 'base_link'
    with pytest.raises(InferError, match="'base_link' is not in the bag's /tf_static"):
        camera_poses(args, bag)


@pytest.mark.ros
@pytest.mark.parametrize('source', ['tf_static', 'extrinsics'])
def test_fused_records_match_the_true_hands(scene, source, tmp_path, capsys):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    truths, pipeline = scene
    bag = tmp_path / 'rig.mcap'
    options = ['--fuse', 'world']
    if source == 'extrinsics':
        # By camera name, and rig/cam_c by its optical frame.
        lines = ['frame: world', 'cameras:']
        for key, pose in zip(['cam_a', 'cam_b', CAMERAS[2].frame_id], POSES):
            quaternion = Rotation.from_matrix(pose[:3, :3]).as_quat().tolist()
            lines += [f'  {key}:', f'    translation: {pose[:3, 3].tolist()}',
                      f'    rotation: {quaternion}']
        (tmp_path / 'rig.yaml').write_text('\n'.join(lines) + '\n')
        options += ['--extrinsics', tmp_path / 'rig.yaml']
    write_camera_bag(bag, CAMERAS, shot_images(),
                     TRANSFORMS if source == 'tf_static' else None)
    out = tmp_path / 'hands.jsonl'
    code, err, _ = run_cli(capsys, bag, *options, '--jsonl', '-o', out,
                           '--out-bag', tmp_path / 'hands.mcap', '--quiet')
    assert code == 0, err
    # Every camera's frames went through the stream in stamp batches, one batch per call.
    assert pipeline.calls == [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 1), (2, 1)],
                              [(0, 2), (2, 2)], [(1, 2)]]
    assert 'unsynchronised: 3 camera frames missing from 4 batches' in err
    assert 'warning' not in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    per_camera = [r for r in records if not r['fused']]
    fused = [r for r in records if r['fused']]
    assert [(r['camera'], r['topic'], r['frame']) for r in per_camera[:3]] == [
        (name, camera.topic, 0) for name, camera in zip(NAMES, CAMERAS)]
    assert len(per_camera) == 9 and all(len(r['hands']) == 2 for r in per_camera)
    assert [r['cameras'] for r in fused] == [NAMES, NAMES, ['cam_a', 'rig/cam_c'], ['cam_b']]
    assert [r['batch'] for r in fused] == [0, 1, 2, 3]
    assert all(r['frame_id'] == 'world' for r in fused)
    # The reference stamp: the one most frames agree with, the newest among equals.
    assert [r['stamp'] for r in fused] == [
        {'sec': 100, 'nanosec': n} for n in (0, 104_000_000, 200_000_000, 250_000_000)]
    for record, scene_index in zip(fused[:3], (0, 1, 2)):
        assert len(record['hands']) == 2
        for hand in record['hands']:
            truth = next(t for t in truths[scene_index] if t.is_right == bool(hand['side']))
            error = np.median(np.linalg.norm(joints(hand) - truth.joints, axis=1))
            assert error < 0.010, (record['cameras'], error)
            assert hand['cameras'] == record['cameras']
            assert len(hand['keypoint_uncertainty']) == 21
            assert 0 < min(hand['keypoint_uncertainty']) and max(
                hand['keypoint_uncertainty']) < 0.05
    # cam_b alone: its own hands moved into world by its true pose.
    lone = next(r for r in per_camera if r['camera'] == 'cam_b' and r['frame'] == 2)
    for hand in fused[3]['hands']:
        assert hand['cameras'] == ['cam_b']
        own = next(h for h in lone['hands'] if h['side'] == hand['side'])
        np.testing.assert_allclose(joints(hand), in_world(POSES[1], own), atol=1e-5)

    with open(tmp_path / 'hands.mcap', 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        messages = [(channel.topic, msg) for _, channel, _, msg in reader.iter_decoded_messages()]
    topics = [topic for topic, _ in messages]
    assert topics.count('/hands_fused') == 4 and topics.count('/mano_faces') == 1
    assert [topics.count(f'/{name}/hands') for name in NAMES] == [3, 3, 3]
    fused_msgs = [msg for topic, msg in messages if topic == '/hands_fused']
    for msg, record in zip(fused_msgs, fused):
        assert msg.header.frame_id == 'world'
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (
            record['stamp']['sec'], record['stamp']['nanosec'])
        assert [list(hand.cameras) for hand in msg.hands] == [h['cameras']
                                                              for h in record['hands']]
        np.testing.assert_allclose([[p.x, p.y, p.z] for p in msg.hands[0].keypoints_3d],
                                   joints(record['hands'][0]), atol=1e-6)
    cam_c = [msg for topic, msg in messages if topic == '/rig/cam_c/hands']
    assert {msg.header.frame_id for msg in cam_c} == {CAMERAS[2].frame_id}


@pytest.mark.ros
def test_a_camera_without_a_transform_warns_once_and_keeps_its_own_hands(scene, tmp_path,
                                                                         capsys):
    bag = tmp_path / 'rig.mcap'
    write_camera_bag(bag, CAMERAS, shot_images(), [t for t in TRANSFORMS
                                                   if t[1] != CAMERAS[1].frame_id])
    out = tmp_path / 'folder'
    code, err, _ = run_cli(capsys, bag, '--fuse', 'world', '-o', out)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if 'warning' in line]
    assert warnings == ["wilor-infer: warning: camera 'cam_b': no transform from 'world'; its "
                        'hands are left out of the fusion (per-camera hands go on)']
    # One JSON file per record: per camera and frame, and per fused batch. cam_b's lone batch
    # had no posed camera: no fused record (the node sends no hands_fused then).
    names = sorted(path.name for path in out.glob('*.json'))
    assert names == sorted([f'{n}_frame_{i:06d}.json' for n in ('cam_a', 'cam_b', 'rig_cam_c')
                            for i in range(3)] + [f'fused_{i:06d}.json' for i in range(3)])
    for index in range(3):
        record = json.loads((out / f'fused_{index:06d}.json').read_text())
        assert record['cameras'] == ['cam_a', 'rig/cam_c']
        assert record['without_pose'] == (['cam_b'] if index < 2 else [])
        assert all('cam_b' not in hand['cameras'] for hand in record['hands'])
    assert len(json.loads((out / 'cam_b_frame_000002.json').read_text())['hands']) == 2


@pytest.mark.ros
def test_several_topics_without_fuse_are_processed_per_camera(scene, tmp_path, capsys):
    bag = tmp_path / 'rig.mcap'
    write_camera_bag(bag, CAMERAS, shot_images())  # no /tf_static: not needed
    code, err, out = run_cli(capsys, bag, '--topic', CAMERAS[0].topic, '--topic',
                             CAMERAS[1].topic, '-o', '-')
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r['camera'], r['frame']) for r in records] == [
        ('cam_a', 0), ('cam_b', 0), ('cam_a', 1), ('cam_b', 1), ('cam_a', 2), ('cam_b', 2)]
    assert not any(r['fused'] for r in records) and 'unsynchronised' not in err


@pytest.mark.ros
@pytest.mark.parametrize('options,transforms,message', [
    (['--topic', '/cam_a/image_raw', '--topic', '/nope/image_raw'], True,
     'has no topic /nope/image_raw; image topics: /cam_a/image_raw, /cam_b/image_raw, '
     '/rig/cam_c/image_raw'),
    (['--fuse', 'base_link'], True, "--fuse frame 'base_link' is not in the bag's /tf_static "
     '(frames: cam_a_optical, cam_b_optical, rig_base, rig_cam_c_optical, world)'),
    (['--fuse', 'world'], False, 'has no /tf_static: give the camera poses in --fuse frame '
     "'world' with --extrinsics FILE"),
    (['--fuse', 'world', '--overlay', 'o.mp4'], True, '--overlay works with one camera'),
])
def test_errors_are_one_line(scene, tmp_path, capsys, options, transforms, message):
    bag = tmp_path / 'rig.mcap'
    write_camera_bag(bag, CAMERAS, shot_images(), TRANSFORMS if transforms else None)
    code, err, _ = run_cli(capsys, bag, *options, '-o', tmp_path / 'out')
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith('wilor-infer: error: '), err
    assert message in err, err
    assert scene[1].calls == []  # nothing ran


@pytest.mark.ros
def test_a_fused_camera_without_camera_info_is_an_error(scene, tmp_path, capsys):
    bag = tmp_path / 'rig.mcap'
    cameras = CAMERAS[:2] + [BagCamera(CAMERAS[2].topic, CAMERAS[2].frame_id, None)]
    write_camera_bag(bag, cameras, shot_images(), TRANSFORMS)
    code, err, _ = run_cli(capsys, bag, '--fuse', 'world', '-o', tmp_path / 'out')
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert ("camera 'rig/cam_c' (/rig/cam_c/image_raw) has no CameraInfo next to its images "
            '(expected /rig/cam_c/camera_info)') in err


# --- the fixture networks on real pixels -----------------------------------------------------


@pytest.mark.ros
def test_fixture_networks_on_a_two_camera_bag(make_fixture_pipeline, tmp_path, capsys):
    image = np.load(DETECT_NPZ)['image']
    images = [image, np.ascontiguousarray(image[:, ::-1])]
    cameras = [BagCamera(c.topic, c.frame_id, np.array([[600.0, 0, 320], [0, 600.0, 240],
                                                        [0, 0, 1]])) for c in CAMERAS[:2]]
    shots = [BagImage(0, images[0], 5 * SECOND, 1), BagImage(1, images[1], 5 * SECOND, 2),
             BagImage(0, images[1], 6 * SECOND, 3), BagImage(1, images[0], 6 * SECOND, 4)]
    bag = tmp_path / 'two.mcap'
    write_camera_bag(bag, cameras, shots, TRANSFORMS[:2])
    out = tmp_path / 'hands.jsonl'
    code, err, _ = run_cli(capsys, bag, '--fuse', 'world', '--jsonl', '-o', out, *WEIGHT_ARGS)
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # --overlap (the next stamp group detected during this one): the same records.
    overlapped = tmp_path / 'overlapped.jsonl'
    code, err, _ = run_cli(capsys, bag, '--fuse', 'world', '--jsonl', '-o', overlapped,
                           '--overlap', *WEIGHT_ARGS)
    assert code == 0, err
    assert [json.loads(line) for line in overlapped.read_text().splitlines()] == records
    per_camera = [r for r in records if not r['fused']]
    fused = [r for r in records if r['fused']]
    # Per camera: what one pipeline batch of the two images gives (same batch composition).
    pipe = make_fixture_pipeline(conf=0.25, iou=0.7)
    for batch in range(2):
        pair = [shots[2 * batch].image, shots[2 * batch + 1].image]
        expected = pipe.process_batch(pair, [c.matrix for c in cameras], compute_vertices=False)
        for record, hands in zip(per_camera[2 * batch:2 * batch + 2], expected):
            assert record['hands'] == json.loads(json.dumps([h.to_dict() for h in hands]))
    assert sum(len(r['hands']) for r in per_camera) > 0
    assert [r['cameras'] for r in fused] == [['cam_a', 'cam_b']] * 2
    # Random weights: whatever was fused names only cameras of its batch; a hand of one
    # camera is that camera's hand moved into world by its true pose.
    singles = 0
    for record, batch in zip(fused, range(2)):
        own = {r['camera']: r['hands'] for r in per_camera[2 * batch:2 * batch + 2]}
        for hand in record['hands']:
            assert set(hand['cameras']) <= {'cam_a', 'cam_b'} and hand['cameras']
            if len(hand['cameras']) == 1:
                singles += 1
                camera = hand['cameras'][0]
                pose = POSES[NAMES.index(camera)]
                assert min(np.abs(joints(hand) - in_world(pose, h)).max()
                           for h in own[camera]) < 1e-4
    assert singles > 0  # the fixture's random hands rarely agree across views
