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
wilor_node's robot outputs over real DDS: gestures, joint targets, configure errors.

Gestures in Hand.gesture and as hri_msgs/Gesture; retargeted joint targets as
sensor_msgs/JointState on the LEAP-like test hand.

One node (fixture weights, CPU, smoothing off, gestures.hold_frames 1 so each frame's gesture
is its own classification) with retargeting of both sides onto test/robots; the scripted camera
of test_ros_wilor_node.py sends the fixture image and robot_outputs_probe.py records the outputs
by stamp. The fixture networks have random weights: their hands are not meaningful poses, so
the gestures are compared with wilor_ros.gestures run here on the same hands, not with labels
(labels: test_gestures.py), and the joint targets are checked for stamp, names and limits
(accuracy: test_retargeting.py).
"""

import importlib.util
import pathlib

from fixture_paths import FIXTURES
import numpy as np
import pytest
from ros_harness import DrivenProcess, node_process, node_rig, ros_env
from worker_fakes import FakePublisher, process_frame, settings_with, worker_without_node

pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
ROBOTS = REPO / 'test' / 'robots'
PROGRAMS = REPO / 'test' / 'ros_programs'
LEAP_JOINTS = sorted(str(i) for i in range(16))
HAVE_DEX = importlib.util.find_spec('dex_retargeting') is not None
# scripts/requirements.txt pins dex-retargeting; the Jazzy venv (requirements-jazzy.txt) and the
# Python 3.10 core environment (numpy 1.21; dex-retargeting 0.5 needs numpy 2) do not have it.
needs_dex = pytest.mark.skipif(not HAVE_DEX, reason='dex-retargeting is not installed')


class Rig:

    def __init__(self, node, camera, probe, outputs):
        self.node, self.camera, self.probe, self.outputs = node, camera, probe, outputs
        self._sec = 2000

    def send(self):
        self._sec += 1
        stamp = [self._sec, 250]
        self.camera('frame', stamp=stamp, fx=600.0)
        return stamp

    def get(self, what, stamp, count=1, timeout=8.0):
        reply = self.outputs('get', what=what, stamp=stamp, count=count, timeout=timeout)
        assert not reply.get('timeout'), (what, reply, self.node.output)
        return reply['messages']

    def hands(self, attempts=6):
        """Send frames until one's hands come back; return (stamp, hands message)."""
        for _ in range(attempts):
            stamp = self.send()
            reply = self.outputs('get', what='hands', stamp=stamp, timeout=8.0)
            if not reply.get('timeout'):
                return stamp, reply['messages'][0]
        raise AssertionError(f'no hands; node output:\n{self.node.output}')


@pytest.fixture(scope='module')
def rig():
    env = ros_env()
    retargeting = ('-p', 'retargeting.enabled:=true', '-p', 'retargeting.side:=both',
                   '-p', f'retargeting.urdf_dir:={ROBOTS}',
                   '-p', 'retargeting.min_confidence:=0.0') if HAVE_DEX else ()
    node = node_process(env, '-p', 'smoothing.enabled:=false', '-p', 'gestures.hold_frames:=1',
                        *retargeting)
    with node_rig(node, env) as (camera, probe):
        outputs = DrivenProcess([PROGRAMS / 'robot_outputs_probe.py'], env)
        try:
            outputs.wait_for_line(lambda line: line == 'READY', timeout=30)
            for what in ('hands', 'gestures') + (('right', 'left') if HAVE_DEX else ()):
                assert outputs('wait_match', what=what)['matched'], (what, node.output)
            rig = Rig(node, camera, probe, outputs)
            # The first camera_info can be lost before the node's reader matched it.
            for _ in range(6):
                _, message = rig.hands()
                if message['hands']:
                    break
            yield rig
        finally:
            outputs.stop()


@pytest.fixture(scope='module')
def expected_gestures(make_fixture_pipeline):
    from wilor_ros.gestures import classify

    pipeline = make_fixture_pipeline(conf=0.25)
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    camera = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])
    return [(int(hand.is_right), classify(hand.keypoints_3d))
            for hand in pipeline(image, camera_matrix=camera)]


def test_gestures_fill_the_hands_and_the_hri_topic(rig, expected_gestures):
    stamp, message = rig.hands()
    hands = message['hands']
    assert len(hands) == len(expected_gestures) > 0
    for hand, (side, reading) in zip(hands, expected_gestures):
        assert hand['side'] == side
        assert hand['gesture'] == reading.gesture
        assert hand['gesture_confidence'] == pytest.approx(reading.confidence, abs=1e-4)
    gestures = rig.get('gestures', stamp, count=len(hands))
    assert [g['stamp'] for g in gestures] == [stamp] * len(hands)
    # hri_msgs handedness: RIGHT 1, LEFT 2 (Hand.side: RIGHT 1, LEFT 0).
    assert sorted((g['gesture'], g['handedness']) for g in gestures) == sorted(
        (hand['gesture'], 1 if hand['side'] == 1 else 2) for hand in hands)


@needs_dex
def test_joint_targets_carry_the_image_stamp_and_the_robot_joints(rig):
    from wilor_ros.retargeting import HandRetargeter

    limits = {}
    for side in ('right', 'left'):
        retargeter = HandRetargeter('leap', 'vector', side, ROBOTS)
        robot = retargeter.optimizer.robot
        limits[side] = dict(zip(retargeter.joint_names, robot.joint_limits))
    stamp, message = rig.hands()
    sides = {hand['side'] for hand in message['hands']}
    assert sides == {0, 1}  # the fixture image has both
    for side in ('right', 'left'):
        (state,) = rig.get(side, stamp)
        assert state['stamp'] == stamp and state['frame_id'] == 'cam_optical'
        assert sorted(state['name']) == LEAP_JOINTS
        for name, position in zip(state['name'], state['position']):
            low, high = limits[side][name]
            assert np.isfinite(position) and low - 1e-2 <= position <= high + 1e-2
    diagnostics = rig.outputs('diagnostics', timeout=10.0)
    assert int(diagnostics.get('errors.after_tracking', 0)) == 0, diagnostics


def configure_failure(*arguments):
    """Start a node that must fail to configure; return its output."""
    node = node_process(ros_env(), '-p', 'retargeting.enabled:=true', *arguments)
    try:
        code = node.finish(timeout=120)
    finally:
        node.stop()
    assert code == 1, node.output
    return node.output


@needs_dex
def test_configure_fails_in_one_line_naming_the_file(tmp_path):
    output = configure_failure('-p', f'retargeting.urdf_dir:={tmp_path / "missing"}')
    line = next(line for line in output.splitlines() if 'retargeting:' in line)
    assert 'FATAL' in line and 'missing' in line and 'dex-urdf' in line
    bad = tmp_path / 'leap_hand' / 'leap_hand_right.urdf'
    bad.parent.mkdir()
    bad.write_text('not a robot <')
    output = configure_failure('-p', f'retargeting.urdf_dir:={tmp_path}')
    line = next(line for line in output.splitlines() if 'retargeting:' in line)
    assert str(bad) in line and 'cannot be read' in line
    output = configure_failure('-p', 'retargeting.robot:=r2d2')
    assert 'retargeting.robot must be one of leap' in output


class FailingRetargeter:
    joint_names = ['a', 'b']

    def retarget(self, keypoints):
        if keypoints[0, 0] < 0:
            raise ValueError('no solution')
        return np.zeros(2)


def test_a_failed_solve_is_raised_by_the_next_publish_and_solving_goes_on():
    """The inference worker counts what publish raises (errors.after_tracking); hands are out."""
    from std_msgs.msg import Header
    from wilor_ros.hand_stream import CameraFrame, CameraHands
    from wilor_ros.retargeting_step import RetargetingWorker, Target
    from wilor_ros.ros.retargeting_publisher import RetargetingPublisher

    publisher = RetargetingPublisher.__new__(RetargetingPublisher)
    publisher.publishers = {('', 'right'): FakePublisher()}
    publisher.worker = RetargetingWorker({('', 'right'): FailingRetargeter()}, publisher._send)

    def batch(sign, sec):
        joints = np.full((21, 3), sign)
        result = CameraHands(camera='', stamp=sec, frame=CameraFrame(None, sec), hands=[],
                             raw_hands=[], outputs={'retargeting': {
                                 'right': Target('retarget', '1', 1.0, joints)}})
        header = Header(frame_id='cam')
        header.stamp.sec = sec
        publisher.publish([result], [header])
        assert publisher.worker.wait_idle(5.0)

    try:
        batch(-1.0, 1)
        with pytest.raises(RuntimeError, match='retargeting failed: .*no solution'):
            batch(1.0, 2)
        assert publisher.worker.wait_idle(5.0)
        batch(1.0, 3)
        sent = publisher.publishers[('', 'right')].messages
        assert [msg.header.stamp.sec for msg in sent] == [2, 3]
        assert list(sent[0].name) == ['a', 'b'] and publisher.worker.errors == 1
    finally:
        publisher.worker.stop()


def test_a_failing_retargeting_is_counted_and_hands_go_on(make_fixture_pipeline):
    """The node's worker with the real retargeting step and publisher, retargeting failing."""
    from wilor_ros.hand_stream import HandStream
    from wilor_ros.ros.frame_worker import tracking_options
    from wilor_ros.ros.node_diagnostics import FrameStatistics
    from wilor_ros.ros.retargeting_publisher import RetargetingPublisher
    from wilor_ros.retargeting_step import RetargetingStep, RetargetingWorker

    settings = settings_with({'use_camera_info': False, 'use_depth': False,
                              'detection.confidence': 0.25, 'smoothing.enabled': False})
    step = RetargetingStep(('right', 'left'), min_confidence=0.0)
    publisher = RetargetingPublisher.__new__(RetargetingPublisher)
    publisher.publishers = {('', side): FakePublisher() for side in ('right', 'left')}

    class Broken:
        joint_names = ['a']

        def retarget(self, keypoints):
            raise ValueError('solver exploded')

    publisher.worker = RetargetingWorker({key: Broken() for key in publisher.publishers},
                                         publisher._send)
    stats = FrameStatistics()
    worker, stream = worker_without_node(
        HandStream(make_fixture_pipeline(conf=0.25), tracking_options(settings), [step]),
        settings, stats, [publisher])
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    try:
        for sec in range(1, 4):
            process_frame(worker, image, sec)
            assert publisher.worker.wait_idle(10.0)
    finally:
        publisher.worker.stop()
    # Every frame's hands went out, with both sides; each solve failed and was counted.
    assert [m.header.stamp.sec for m in stream.hands_pub.messages] == [1, 2, 3]
    assert {h.side for h in stream.hands_pub.messages[-1].hands} == {0, 1}
    assert publisher.worker.errors == 6
    assert stats.errors['after_tracking'] == 2  # raised by the 2nd and 3rd publish
    assert all(not p.messages for p in publisher.publishers.values())
