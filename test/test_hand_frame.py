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

"""Wrist frame: pose from MANO's global orientation, the documented axes, frame names."""

import dataclasses

from fixture_paths import MANO_PKL
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import torch

from wilor_ros.hand import HandResult
from wilor_ros.hand_frame import check_frame_pattern, hand_frame_names, wrist_pose
from wilor_ros.models.mano import mano_buffers_from_pickle, MANOLayer
from wilor_ros.rotations import mirror_axis_angle
from wilor_ros.skeleton import WRIST

MIDDLE_TIP, THUMB_TIP = 12, 4


def mano_hand(orient, is_right):
    """Build a flat MANO hand turned by ``orient``, as the pipeline reports either side."""
    mano = MANOLayer(**mano_buffers_from_pickle(MANO_PKL))
    with torch.no_grad():
        _, joints = mano(torch.tensor(orient.as_matrix()[None, None], dtype=torch.float32),
                         torch.eye(3).repeat(1, 15, 1, 1), torch.zeros(1, 10))
    joints = joints[0].double().numpy() + [0.0, 0.0, 0.5]
    rotvec = orient.as_rotvec()
    if not is_right:
        # WiLoR's left hands: mirrored x in the frame, axis-angle mirrored (x, -y, -z).
        joints = joints * [-1, 1, 1]
        rotvec = mirror_axis_angle(torch.tensor(rotvec)).numpy()
    zeros = np.zeros
    return HandResult(
        is_right=is_right, score=1.0, box=zeros(4), keypoints_3d=joints.astype(np.float32),
        keypoints_2d=zeros((21, 2)), keypoints_2d_network=zeros((21, 2)),
        global_orient=rotvec.astype(np.float32), hand_pose=zeros(45), betas=zeros(10),
        cam_t=zeros(3), focal_length=np.array([600.0, 600.0]),
        principal_point=np.array([320.0, 240.0]), focal_from_camera_info=True)


@pytest.mark.parametrize('is_right', [True, False])
def test_axes_are_the_documented_ones_for_both_sides(is_right):
    orient = Rotation.from_rotvec([0.4, -1.1, 0.7])
    hand = mano_hand(orient, is_right)
    translation, quaternion = wrist_pose(hand)
    np.testing.assert_allclose(translation, hand.keypoints_3d[WRIST], atol=1e-6)
    assert quaternion[3] >= 0 and np.linalg.norm(quaternion) == pytest.approx(1.0)
    axes = Rotation.from_quat(quaternion).as_matrix()   # columns: the frame's x, y, z
    assert np.linalg.det(axes) == pytest.approx(1.0)

    def direction(joint):
        vector = hand.keypoints_3d[joint] - hand.keypoints_3d[WRIST]
        return vector / np.linalg.norm(vector)

    # Fingers along -x (right) / +x (left); the thumb on the +z side for both.
    fingers = -axes[:, 0] if is_right else axes[:, 0]
    assert direction(MIDDLE_TIP) @ fingers > 0.95
    assert direction(THUMB_TIP) @ axes[:, 2] > 0.5


def test_frame_names_from_patterns_stay_unique():
    hand = mano_hand(Rotation.identity(), True)
    hands = [dataclasses.replace(hand, track_id='4'),
             dataclasses.replace(hand, is_right=False, track_id='7'),
             dataclasses.replace(hand, track_id='9'), dataclasses.replace(hand, track_id='')]
    assert hand_frame_names(hands) == ['hand_4', 'hand_7', 'hand_9', 'hand_u3']
    assert hand_frame_names(hands[:2], '{side}_hand') == ['right_hand', 'left_hand']
    assert hand_frame_names(hands, '{side}_hand') == [
        'right_hand', 'left_hand', 'right_hand_9', 'right_hand_u3']
    assert check_frame_pattern('cam/{side}_{index}') is None
    assert 'placeholders' in check_frame_pattern('hand_{name}')
    assert 'frame name' in check_frame_pattern('/hand_{id}')
    assert 'frame name' in check_frame_pattern('')
