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

"""The finiteness rule covers every number of a HandResult, fields added later included."""

import dataclasses

import numpy as np
import pytest

from wilor_ros.finite import hand_is_finite, split_finite
from wilor_ros.hand import HandResult


def make_hand(score=0.9):
    return HandResult(
        is_right=True, score=score, box=np.array([1, 2, 30, 40], np.float32),
        keypoints_3d=np.ones((21, 3), np.float32), keypoints_2d=np.ones((21, 2), np.float32),
        keypoints_2d_network=np.ones((21, 2), np.float32),
        global_orient=np.zeros(3, np.float32), hand_pose=np.zeros(45, np.float32),
        betas=np.zeros(10, np.float32), cam_t=np.array([0, 0, 0.5], np.float32),
        focal_length=np.array([600, 600], np.float32),
        principal_point=np.array([320, 240], np.float32), focal_from_camera_info=True,
        vertices=np.ones((778, 3), np.float32), track_id='3')


NUMERIC_FIELDS = [field.name for field in dataclasses.fields(HandResult)
                  if isinstance(getattr(make_hand(), field.name), (float, np.ndarray))]


def test_every_numeric_field_is_checked():
    assert len(NUMERIC_FIELDS) >= 12  # every array of Hand.msg, and the score
    assert hand_is_finite(make_hand())
    assert hand_is_finite(dataclasses.replace(make_hand(), vertices=None))


@pytest.mark.parametrize('name', NUMERIC_FIELDS)
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_one_non_finite_number_anywhere_makes_the_hand_non_finite(name, bad):
    hand = make_hand()
    value = getattr(hand, name)
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flat[-1] = bad
    else:
        value = bad
    assert not hand_is_finite(dataclasses.replace(hand, **{name: value}))


def test_split_keeps_the_order_and_counts_the_dropped():
    hands = [make_hand(0.9), make_hand(float('nan')), make_hand(0.7)]
    hands[2].cam_t = np.array([0.0, 0.0, np.inf], np.float32)
    hands.append(make_hand(0.6))
    kept, dropped = split_finite(hands)
    assert [hand.score for hand in kept] == [0.9, 0.6] and dropped == 2
    assert split_finite([]) == ([], 0)
