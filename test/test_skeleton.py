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

"""The public joint order (wilor_ros/skeleton.py): OpenPose's 21 hand joints, spelled out."""

from wilor_ros.skeleton import (BONES, finger_joints, FINGERS, JOINT_NAMES, MANO_TO_OPENPOSE,
                                NUM_JOINTS, WRIST)


def test_joint_names_follow_openpose_order():
    assert NUM_JOINTS == len(JOINT_NAMES) == 21
    assert JOINT_NAMES[WRIST] == 'wrist' and WRIST == 0
    assert JOINT_NAMES[1:5] == ('thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip')
    assert JOINT_NAMES[5:9] == ('index_mcp', 'index_pip', 'index_dip', 'index_tip')
    assert [JOINT_NAMES[4 + 4 * n] for n in range(5)] == [f'{f}_tip' for f in FINGERS]
    assert len(set(JOINT_NAMES)) == NUM_JOINTS
    assert finger_joints('pinky') == (17, 18, 19, 20)


def test_bones_are_five_chains_from_the_wrist():
    assert len(BONES) == 20
    # Every joint but the wrist is the child of exactly one bone; its parent comes first.
    assert sorted(child for _, child in BONES) == list(range(1, NUM_JOINTS))
    assert all(parent < child for parent, child in BONES)
    assert [parent for parent, _ in BONES if parent == WRIST] == [WRIST] * len(FINGERS)


def test_mano_to_openpose_is_a_permutation_of_mano_joints_and_tips():
    # 16 MANO joints + 5 finger tips (appended as 16..20) -> the 21 OpenPose joints.
    assert sorted(MANO_TO_OPENPOSE) == list(range(NUM_JOINTS))
    assert MANO_TO_OPENPOSE[WRIST] == 0
    # The tips are the appended vertices, in finger order.
    assert [MANO_TO_OPENPOSE[4 + 4 * n] for n in range(5)] == [16, 17, 18, 19, 20]
