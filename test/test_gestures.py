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


"""Gestures from 3D joints (wilor_ros.gestures) on synthetic hands with known labels."""

import pathlib
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from wilor_ros import gestures as g
from wilor_ros.hand import HandResult
from wilor_ros.hand_stream import CameraFrame, CameraHands

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'bench'))
import bench_gestures  # noqa: E402, I100  (the synthetic hands live with the benchmark)


def hand(keypoints, is_right=True, track_id='1'):
    zeros = np.zeros
    return HandResult(
        is_right=is_right, score=0.9, box=zeros(4), keypoints_3d=keypoints.astype(np.float32),
        keypoints_2d=zeros((21, 2)), keypoints_2d_network=zeros((21, 2)),
        global_orient=zeros(3), hand_pose=zeros(45), betas=zeros(10), cam_t=zeros(3),
        focal_length=np.array([600.0, 600.0]), principal_point=np.array([320.0, 240.0]),
        focal_from_camera_info=True, track_id=track_id)


def test_every_gesture_is_recognised_on_both_sides_from_any_viewpoint():
    table = bench_gestures.accuracy_table(seed=3, hands=50)
    for name, (accuracy, counts) in table.items():
        assert accuracy >= 0.95, (name, counts)


def test_curls_do_not_depend_on_wrist_orientation_or_side():
    rng = np.random.default_rng(0)
    joints = bench_gestures.hand_joints(bench_gestures.finger_rotvecs('TEECC', rng))
    curls = g.finger_curls(joints)
    for _ in range(10):
        turned = Rotation.random(random_state=rng).apply(joints) + rng.uniform(-1, 1, 3)
        np.testing.assert_allclose(g.finger_curls(turned), curls, atol=1e-9)
    np.testing.assert_allclose(g.finger_curls(joints * [-1, 1, 1]), curls, atol=1e-9)


def test_thumb_up_and_down_follow_the_camera_up_axis_and_sideways_is_other():
    rng = np.random.default_rng(1)
    joints = bench_gestures.hand_joints(bench_gestures.finger_rotvecs('OCCCC', rng, 0.0))
    thumb = joints[4] - joints[2]
    for target, expected in ((g.CAMERA_UP, g.THUMB_UP), (-g.CAMERA_UP, g.THUMB_DOWN),
                             (np.array([1.0, 0.0, 0.0]), g.OTHER)):
        rotation, _ = Rotation.align_vectors([target], [thumb])
        assert g.classify(rotation.apply(joints)).gesture == expected


def test_ambiguous_hands_are_other_with_a_confidence():
    rng = np.random.default_rng(2)
    reading = g.classify(bench_gestures.posed_hand('HHHHH', g.OTHER, True, rng))
    assert reading.gesture == g.OTHER and 0.5 < reading.confidence <= 1.0
    reading = g.classify(bench_gestures.posed_hand('OEEEE', g.OPEN_PALM, True, rng))
    assert reading.gesture == g.OPEN_PALM and reading.confidence > 0.7


def test_steady_noisy_hands_do_not_flicker_after_the_hysteresis():
    flicker, wrong = bench_gestures.steady_flicker(seed=4, frames=60)
    assert flicker == 0 and wrong == 0
    # Without the hysteresis the harsh noise model does flicker: the check can fail.
    harsh, _ = bench_gestures.steady_flicker(seed=4, hold_frames=1, frames=60,
                                             rotation_noise=0.0, joint_noise=0.006)
    assert harsh > 0


def test_hysteresis_reports_after_n_frames_and_ignores_short_glitches():
    hysteresis = g.GestureHysteresis(hold_frames=3)
    fist, other = g.GestureReading(g.CLOSED_FIST, 0.9), g.GestureReading(g.OTHER, 0.6)
    reported = [hysteresis.update('a', fist, t)[0] for t in range(3)]
    assert reported == [g.OTHER, g.OTHER, g.CLOSED_FIST]
    reported = [hysteresis.update('a', r, 3 + t)[0]
                for t, r in enumerate([other, other, fist, other, fist])]
    assert reported == [g.CLOSED_FIST] * 5
    # Untracked hands (no id) get no hysteresis.
    assert hysteresis.update('', fist, 9)[0] == g.CLOSED_FIST


@pytest.mark.parametrize('is_right', [True, False])
def test_the_step_adds_one_gesture_per_hand_with_its_handedness(is_right):
    rng = np.random.default_rng(5)
    joints = bench_gestures.posed_hand('OECCE', g.LOVE, is_right, rng)
    step = g.GestureStep(hold_frames=2)
    for frame in range(2):
        result = CameraHands(camera='', stamp=frame / 30, frame=CameraFrame(None, frame / 30),
                             hands=[hand(joints, is_right)], raw_hands=[])
        step([result])
    (gesture,) = result.outputs['gestures']
    assert gesture.gesture == g.LOVE and gesture.name == 'LOVE'
    assert gesture.handedness == (g.RIGHT if is_right else g.LEFT)
    assert 0.5 < gesture.confidence <= 1.0
