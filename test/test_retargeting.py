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


"""Retargeting (wilor_ros.retargeting, wilor_ros.retargeting_step) on the LEAP-like test hand."""

import pathlib
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from wilor_ros.hand import HandResult
from wilor_ros.hand_stream import CameraFrame, CameraHands
from wilor_ros.retargeting import (HandRetargeter, operator_keypoints, RetargetingError,
                                   wrist_rotation)
from wilor_ros.retargeting_step import RetargetingStep, RetargetingWorker, Target

# scripts/requirements.txt pins dex-retargeting; the Python 3.10 core environment (numpy 1.21;
# dex-retargeting 0.5 needs numpy 2) does not have it.
pytest.importorskip('dex_retargeting', reason='dex-retargeting is not installed')

REPO = pathlib.Path(__file__).resolve().parent.parent
ROBOTS = REPO / 'test' / 'robots'
sys.path.insert(0, str(REPO / 'bench'))
import bench_retargeting  # noqa: E402, I100  (the round trip lives with the benchmark)


@pytest.mark.parametrize('side', ['right', 'left'])
def test_round_trip_through_human_joints_gives_the_fingertips_back(side):
    errors, _ = bench_retargeting.round_trip(seed=7, poses=120, side=side)
    assert np.median(errors) < 0.005, np.median(errors)
    # Half of the fingertips within 5 mm is not enough: most must be.
    assert np.mean(errors < 0.01) > 0.8


def test_the_round_trip_can_fail():
    """The same round trip with the wrong side's operator frame is far off."""
    rng = np.random.default_rng(0)
    retargeter = HandRetargeter('leap', 'vector', 'right', ROBOTS)
    robot = retargeter.optimizer.robot
    limits = robot.joint_limits
    truth = rng.uniform(limits[:, 0], limits[:, 1])
    keypoints = bench_retargeting.human_keypoints(robot, truth, 1.6, True, rng)
    retargeter.is_right = False  # the left operator frame on a right hand
    qpos = retargeter.retarget(keypoints)
    tips = bench_retargeting.TIP_LINKS
    error = np.linalg.norm(bench_retargeting.link_positions(robot, qpos, tips)
                           - bench_retargeting.link_positions(robot, truth, tips), axis=1)
    assert np.median(error) > 0.02


def test_operator_frame_does_not_depend_on_the_camera():
    rng = np.random.default_rng(1)
    joints = rng.normal(0, 0.05, (21, 3))
    reference = operator_keypoints(joints, True)
    for _ in range(5):
        rotation = Rotation.random(random_state=rng)
        moved = rotation.apply(joints) + rng.uniform(-1, 1, 3)
        np.testing.assert_allclose(operator_keypoints(moved, True), reference, atol=1e-9)
        frame = wrist_rotation(moved)
        np.testing.assert_allclose(frame.T @ frame, np.eye(3), atol=1e-9)
        assert np.linalg.det(frame) == pytest.approx(1.0)


def test_a_degenerate_hand_is_an_error_not_a_silent_old_solution():
    retargeter = HandRetargeter('leap', 'vector', 'right', ROBOTS)
    with pytest.raises(ValueError, match='not a triangle'):
        retargeter.retarget(np.zeros((21, 3)))


def test_joint_names_are_the_robots():
    temp_root = pathlib.Path(tempfile.gettempdir())
    before = set(temp_root.glob('dex_retargeting-*'))
    retargeter = HandRetargeter('leap', 'dexpilot', 'left', ROBOTS)
    # dex-retargeting's copy of the URDF is gone once parsed (it left one folder per start).
    assert set(temp_root.glob('dex_retargeting-*')) <= before
    assert sorted(retargeter.joint_names, key=int) == [str(i) for i in range(16)]
    assert retargeter.urdf == (ROBOTS / 'leap_hand' / 'leap_hand_left.urdf').resolve()


@pytest.mark.parametrize('mode', ['dexpilot', 'position'])
def test_the_other_modes_run_on_the_test_hand(mode):
    rng = np.random.default_rng(2)
    retargeter = HandRetargeter('leap', mode, 'right', ROBOTS)
    robot = retargeter.optimizer.robot
    limits = robot.joint_limits
    truth = np.clip(np.zeros(len(limits)), limits[:, 0], limits[:, 1])
    keypoints = bench_retargeting.human_keypoints(robot, truth, 1.6, True, rng)
    positions = retargeter.retarget(keypoints)
    assert positions.shape == (len(retargeter.joint_names),) and np.all(np.isfinite(positions))
    # dex-retargeting's offline (position) configurations add a free-floating base.
    assert ('dummy_x_translation_joint' in retargeter.joint_names) == (mode == 'position')


def test_missing_urdf_dir_unknown_robot_and_bad_urdf_fail_in_one_line(tmp_path):
    with pytest.raises(RetargetingError, match='dex-urdf') as error:
        HandRetargeter('leap', 'vector', 'right', tmp_path / 'nowhere')
    assert 'nowhere' in str(error.value) and '\n' not in str(error.value)
    with pytest.raises(RetargetingError, match="unknown robot 'r2d2'"):
        HandRetargeter('r2d2', 'vector', 'right', ROBOTS)
    with pytest.raises(RetargetingError, match='leap_hand_right.urdf not found'):
        HandRetargeter('leap', 'vector', 'right', tmp_path)
    bad = tmp_path / 'leap_hand' / 'leap_hand_right.urdf'
    bad.parent.mkdir()
    bad.write_text('<robot name="x"><link name="base"')
    with pytest.raises(RetargetingError) as error:
        HandRetargeter('leap', 'vector', 'right', tmp_path)
    assert str(bad) in str(error.value) and 'cannot be read' in str(error.value)
    bad.write_text('<robot name="x"><link name="base"/></robot>')
    with pytest.raises(RetargetingError, match='does not fit'):
        HandRetargeter('leap', 'vector', 'right', tmp_path)


def hand(is_right, score, track_id, confidence=0.9, offset=0.0):
    zeros = np.zeros
    joints = np.random.default_rng(3).normal(0, 0.05, (21, 3)) + [0, 0, 0.6 + offset]
    return HandResult(
        is_right=is_right, score=score, box=zeros(4), keypoints_3d=joints.astype(np.float32),
        keypoints_2d=zeros((21, 2)), keypoints_2d_network=zeros((21, 2)),
        global_orient=zeros(3), hand_pose=zeros(45), betas=zeros(10), cam_t=zeros(3),
        focal_length=np.array([600.0, 600.0]), principal_point=np.array([320.0, 240.0]),
        focal_from_camera_info=True, track_id=track_id,
        keypoint_confidence=np.full(21, confidence, np.float32))


def run_step(step, hands, stamp, camera='cam'):
    result = CameraHands(camera=camera, stamp=stamp, frame=CameraFrame(None, stamp),
                         hands=hands, raw_hands=[])
    step([result])
    return result.outputs['retargeting']


def test_driving_hand_is_kept_then_held_then_stopped():
    step = RetargetingStep(('right', 'left'), min_confidence=0.5, hold_time=0.2)
    out = run_step(step, [hand(True, 0.6, 'a'), hand(True, 0.8, 'b'), hand(False, 0.7, 'c')], 0.0)
    assert out['right'].action == 'retarget' and out['right'].track_id == 'b'
    assert out['left'].track_id == 'c'
    # b keeps control although a now scores higher.
    out = run_step(step, [hand(True, 0.95, 'a'), hand(True, 0.5, 'b')], 0.033)
    assert out['right'].track_id == 'b' and 'left' in out  # left: held
    assert out['left'].action == 'hold'
    # b too uncertain: hold (not a switch to a); then lost for longer than hold_time: stop.
    out = run_step(step, [hand(True, 0.95, 'a'), hand(True, 0.5, 'b', confidence=0.2)], 0.066)
    assert out['right'] == Target('hold', 'b', 0.0)
    out = run_step(step, [], 0.3)
    assert out == {}
    # A new hand of the side takes over.
    out = run_step(step, [hand(True, 0.7, 'd')], 0.4)
    assert out['right'].action == 'retarget' and out['right'].track_id == 'd'
    # Cameras are independent.
    assert run_step(step, [], 0.4, camera='other') == {}


class SlowRetargeter:
    joint_names = ['j0', 'j1']

    def __init__(self, delay):
        self.delay = delay
        self.calls = 0

    def retarget(self, keypoints):
        self.calls += 1
        time.sleep(self.delay)
        if np.isnan(keypoints).any():
            raise ValueError('bad joints')
        return np.array([keypoints[0, 0], self.calls], dtype=np.float64)


def test_worker_never_blocks_keeps_the_newest_and_counts_errors():
    results, lock = [], threading.Lock()

    def sink(key, context, names, positions):
        with lock:
            results.append((key, context, list(names), positions.copy()))

    slow = SlowRetargeter(0.2)
    worker = RetargetingWorker({'r': slow}, sink)
    try:
        start = time.monotonic()
        for i in range(5):
            joints = np.full((21, 3), float(i))
            worker.submit('r', Target('retarget', 't', 1.0, joints), f'frame{i}')
        assert time.monotonic() - start < 0.1  # the caller never waits for a solve
        assert worker.wait_idle(5.0)
        contexts = [context for _, context, _, _ in results]
        # The first request started at once; of the rest only the newest was solved.
        assert contexts[-1] == 'frame4' and len(contexts) <= 3 and worker.dropped >= 2
        assert results[-1][2] == ['j0', 'j1'] and results[-1][3][0] == 4.0
        worker.submit('r', Target('hold', 't', 0.0), 'held')
        worker.submit('r', Target('retarget', 't', 1.0, np.full((21, 3), np.nan)), 'bad')
        assert worker.wait_idle(5.0)
        assert worker.errors == 1 and 'bad joints' in worker.take_errors()[0]
        assert worker.take_errors() == []
    finally:
        worker.stop()
    assert not worker._thread.is_alive()


def test_wilor_infer_writes_gestures_and_joint_trajectories(tmp_path, capsys):
    import json

    import cv2
    from fixture_paths import DETECTOR, FIXTURES, RECONSTRUCTOR

    from wilor_ros.gestures import classify
    from wilor_ros.tools import infer

    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    folder = tmp_path / 'images'
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f'frame{index}.png'), image)
    out = tmp_path / 'hands.jsonl'
    code = infer.main([str(folder), '-o', str(out), '--jsonl', '--detector', str(DETECTOR),
                       '--reconstructor', str(RECONSTRUCTOR), '--device', 'cpu', '--conf',
                       '0.25', '--quiet', '--track', '--gestures', '--gesture-frames', '1',
                       '--retarget', 'leap', '--urdf-dir', str(ROBOTS),
                       '--retarget-min-confidence', '0'])
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        hands = record['hands']
        assert {hand['side'] for hand in hands} == {0, 1}
        for hand in hands:
            joints = np.array([[p['x'], p['y'], p['z']] for p in hand['keypoints_3d']])
            reading = classify(joints)
            assert hand['gesture'] == reading.gesture
            assert hand['gesture_confidence'] == pytest.approx(reading.confidence, abs=1e-3)
        for side, code_ in (('right', 1), ('left', 0)):
            entry = record['retargeting'][side]
            best = max((h for h in hands if h['side'] == code_), key=lambda h: h['score'])
            assert entry['action'] == 'retarget' and entry['track_id'] == best['id']
            assert sorted(entry['joint_names'], key=int) == [str(i) for i in range(16)]
            assert np.all(np.isfinite(entry['positions'])) and len(entry['positions']) == 16
    # A missing robot description folder is one clear line, before any weights are loaded.
    code = infer.main([str(folder), '-o', str(out), '--jsonl', '--quiet', '--retarget', 'leap',
                       '--urdf-dir', str(tmp_path / 'none')])
    assert code == 1 and 'dex-urdf' in capsys.readouterr().err
