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
Multi-view fusion in the node: three cameras, static transforms, ``hands_fused`` over DDS.

Plus the ROS-side parts on their own: the /tf_static reader composing chains of static
transforms, the extrinsics file, and the configure failure on a bad one.
"""

import contextlib
import math
import re
import time

import numpy as np
import pytest
from ros_harness import DrivenProcess, node_process, node_rig, PROGRAMS, ros_env

pytestmark = pytest.mark.ros

CAMERAS = ('cam_a', 'cam_b', 'rig/cam_c')
FRAMES = {name: f'{name.replace("/", "_")}_optical' for name in CAMERAS}
# Camera optical frame -> world: looking along world +x, x right = world -y, y down = -z.
LOOK_X = [-0.5, 0.5, -0.5, 0.5]
TRANSFORMS = [
    ['world', FRAMES['cam_a'], [0.0, 0.0, 1.0], LOOK_X],
    ['world', FRAMES['cam_b'], [0.0, -0.5, 1.0], LOOK_X],
    # cam_c through a chain, as a robot's URDF gives it.
    ['world', 'rig_base', [0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]],
    ['rig_base', FRAMES['rig/cam_c'], [0.0, 0.0, 1.0], LOOK_X],
]


def fusion_node(env, *arguments):
    return node_process(env, '-p', f'cameras:=[{",".join(CAMERAS)}]',
                        '-p', 'smoothing.enabled:=false', '-p', 'fusion.enabled:=true',
                        '-p', 'fusion.frame:=world', *arguments)


@contextlib.contextmanager
def fusion_rig(transforms=()):
    """Start the fusion node, the TF/fused-hands rig, camera and probe; yield all four."""
    env = ros_env()
    node = fusion_node(env)
    rig = DrivenProcess([PROGRAMS / 'fusion_rig.py'], env)
    try:
        rig.wait_for_line(lambda line: line == 'READY', timeout=30)
        if transforms:
            assert rig('static_tf', transforms=transforms)['sent'] == len(transforms)
        with node_rig(node, env, image_topics=[f'{name}/image' for name in CAMERAS]) as (
                camera, probe):
            for name in CAMERAS:
                assert probe('wait_publisher', ns=name)['matched'], node.output
            yield node, rig, camera, probe
    finally:
        rig.stop()


def send_batch(camera, stamp):
    for name in CAMERAS:
        camera('frame', topic=f'{name}/image', info_topic=f'{name}/camera_info', fx=600.0,
               stamp=stamp, frame_id=FRAMES[name])


def test_three_cameras_with_static_transforms_publish_hands_fused():
    with fusion_rig(TRANSFORMS) as (node, rig, camera, probe):
        fused = None
        for attempt in range(5):
            stamp = [4000 + attempt, 0]
            send_batch(camera, stamp)
            # Three cameras of eight hands on a shared CPU: a batch may take many seconds.
            reply = rig('fused', stamp=stamp, timeout=40.0)
            # A camera_info lost before discovery leaves a camera without K: wait for a
            # batch that fused hands.
            if not reply.get('timeout') and reply['hands']:
                fused = reply
                break
        assert fused is not None, node.output
        assert fused['frame_id'] == 'world'
        for hand in fused['hands']:
            assert hand['cameras'] and set(hand['cameras']) <= set(CAMERAS)
            assert len(hand['uncertainty']) == 21 and min(hand['uncertainty']) > 0
            assert all(math.isfinite(v) for v in hand['wrist'])
            assert hand['focal_length'] == [0.0, 0.0]  # no single image: zero
            assert re.fullmatch(r'f\d+', hand['id'])
        # Every camera looks along world +x from 1 m up: the hands lie in front of them.
        assert all(hand['wrist'][0] > 0 for hand in fused['hands'])
        children = rig('tf', parent='world', timeout=8.0)['children']
        assert any(child.startswith('fused/hand_f') for child in children), children
        # The per-camera hands go on, each in its own optical frame.
        reply = probe('hands', ns='cam_a', stamp=stamp, timeout=8.0)
        assert reply['frame_id'] == FRAMES['cam_a']


def test_without_transforms_one_throttled_warning_and_per_camera_hands_only():
    with fusion_rig() as (node, rig, camera, probe):
        started = time.monotonic()
        hands = 0
        for attempt in range(3):
            stamp = [5000 + attempt, 0]
            send_batch(camera, stamp)
            for name in CAMERAS:
                reply = probe('hands', ns=name, stamp=stamp, timeout=40.0)
                hands += 0 if reply.get('timeout') else 1
        elapsed = time.monotonic() - started
        assert hands >= 6, node.output
        warnings = [line for line in node.lines if 'no transform from' in line]
        # One line per 5 s period for every camera and batch: the kind is throttled.
        assert 1 <= len(warnings) <= 1 + int(elapsed // 5.0), warnings
        assert "no transform from 'world'" in warnings[0]
        assert rig('count')['count'] == 0
        # /diagnostics counts what the fusion left out.
        values = probe('diagnostics', timeout=10.0)['values']
        # A batch holds one frame per camera at most (a frame sent before the node matched
        # the camera is lost, hence ``hands >= 6`` above).
        assert int(values['fusion.batches']) >= math.ceil(hands / len(CAMERAS)), values
        # Every frame whose hands came back went through the fusion without a pose.
        assert int(values['fusion.views_without_pose']) >= hands, values
        assert int(values['fusion.hands_last_batch']) == 0
        assert values['fusion.failures'] == '0'


def test_a_bad_extrinsics_file_fails_configure_in_one_line(tmp_path):
    path = tmp_path / 'rig.yaml'
    path.write_text('cameras:\n  cam_a: {translation: [0, 0, 1], rotation: [0, 0, 0, 2]}\n')
    env = ros_env()
    node = fusion_node(env, '-p', f'fusion.extrinsics:={path}')
    try:
        assert node.finish(timeout=90) == 1, node.output
        assert 'unit quaternion' in node.output and str(path) in node.output
    finally:
        node.stop()


def test_static_transform_chains_are_composed():
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    from wilor_ros.ros.camera_poses import StaticTransforms

    tree = StaticTransforms()
    msg = TFMessage()
    for parent, child, translation, rotation in TRANSFORMS:
        transform = TransformStamped()
        transform.header.frame_id, transform.child_frame_id = parent, child
        t, q = transform.transform.translation, transform.transform.rotation
        t.x, t.y, t.z = translation
        q.x, q.y, q.z, q.w = rotation
        msg.transforms.append(transform)
    tree.add(msg)
    pose = tree.lookup('world', FRAMES['rig/cam_c'])
    np.testing.assert_allclose(pose[:3, 3], [0.0, 0.5, 1.0], atol=1e-12)
    # The optical z axis (forward) is world +x, its y axis (down) world -z.
    np.testing.assert_allclose(pose[:3, 2], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 1], [0.0, 0.0, -1.0], atol=1e-12)
    # Between two cameras, through the common root.
    relative = tree.lookup(FRAMES['cam_a'], FRAMES['rig/cam_c'])
    np.testing.assert_allclose(relative[:3, 3], [-0.5, 0.0, 0.0], atol=1e-12)
    assert tree.lookup('world', 'unknown_optical') is None


def test_extrinsics_file(tmp_path):
    from wilor_ros.extrinsics import ExtrinsicsError, load_extrinsics

    path = tmp_path / 'rig.yaml'
    path.write_text('frame: world\ncameras:\n  cam_a:\n    translation: [0.0, -0.5, 1.0]\n'
                    '    rotation: [-0.5, 0.5, -0.5, 0.5]\n')
    poses = load_extrinsics(path, 'world')
    np.testing.assert_allclose(poses['cam_a'][:3, 3], [0.0, -0.5, 1.0])
    np.testing.assert_allclose(poses['cam_a'][:3, 2], [1.0, 0.0, 0.0], atol=1e-12)
    with pytest.raises(ExtrinsicsError, match="'world' but fusion.frame is 'base_link'"):
        load_extrinsics(path, 'base_link')
    with pytest.raises(ExtrinsicsError, match='cannot read'):
        load_extrinsics(tmp_path / 'missing.yaml')
    path.write_text('cameras:\n  cam_a: {translation: [0, 0]}\n')
    with pytest.raises(ExtrinsicsError, match="camera 'cam_a' needs translation"):
        load_extrinsics(path)


def test_tf2_lookups_skip_only_tf2s_own_errors(monkeypatch):
    """With tf2_ros (a stand-in here: it has no wheel), a missing transform is None, a bug not."""
    import sys
    import types

    from geometry_msgs.msg import Transform

    from wilor_ros.ros.camera_poses import CameraPoses

    class TransformException(Exception):
        pass

    class LookupException(TransformException):
        pass

    class Buffer:
        def __init__(self):
            self.known, self.fault, self.asked = {}, None, []

        def lookup_transform(self, target, source, when):
            self.asked.append(when.nanoseconds)
            if self.fault is not None:
                raise self.fault
            if (source, when.nanoseconds) not in self.known:
                raise LookupException(f'{source} at {when.nanoseconds}')
            transform = types.SimpleNamespace(transform=Transform())
            transform.transform.translation.x = self.known[(source, when.nanoseconds)]
            transform.transform.rotation.w = 1.0
            return transform

    tf2_ros = types.SimpleNamespace(Buffer=Buffer, TransformException=TransformException,
                                    TransformListener=lambda buffer, node, spin_thread: None)
    monkeypatch.setitem(sys.modules, 'tf2_ros', tf2_ros)
    poses = CameraPoses(None, 'world', lambda camera: f'{camera}_optical')
    assert poses.source == 'tf2_ros'
    buffer = poses._buffer
    # At the frame's stamp (integer nanoseconds), else the newest (time 0).
    buffer.known[('cam_a_optical', 1_250_000_000)] = 1.0
    assert poses.pose('cam_a', 1.25)[0, 3] == 1.0
    buffer.known[('cam_b_optical', 0)] = 2.0
    assert poses.pose('cam_b', 5.5)[0, 3] == 2.0
    assert buffer.asked[-2:] == [5_500_000_000, 0]
    assert poses.pose('cam_c', 5.5) is None
    # Not a tf2 error: the fusion's caller hears of it (MultiViewFusion warns 'fusion_failed').
    buffer.fault = TypeError('bad frame argument')
    with pytest.raises(TypeError, match='bad frame argument'):
        poses.pose('cam_a', 5.5)
