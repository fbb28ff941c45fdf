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
The 21-joint OpenPose hand skeleton: joint order, names, bones and the MANO mapping.

WiLoR (and every ``keypoints_3d`` / ``keypoints_2d`` / ``keypoint_confidence`` array in
wilor_ros) orders the joints as OpenPose does: the wrist, then four joints per finger from the
palm outwards, fingers thumb, index, middle, ring, pinky. This module is the one place that
spells the order out; :data:`MANO_TO_OPENPOSE` is the mapping that produces it from MANO's
joints.

Public API (for users of the Python API and the ``Hand`` message's joint arrays):
:data:`NUM_JOINTS` (21), :data:`JOINT_NAMES` (``'wrist'``, ``'thumb_cmc'`` ...
``'pinky_tip'``, index = joint index), :data:`WRIST`, :data:`FINGERS`,
:func:`finger_joints`, :data:`BONES` (parent, child) pairs and :data:`MANO_TO_OPENPOSE`.
"""

FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')

# Per finger, from the palm outwards (OpenPose hand order; thumb: CMC, MCP, IP, tip).
_FINGER_JOINTS = {
    'thumb': ('cmc', 'mcp', 'ip', 'tip'),
    'index': ('mcp', 'pip', 'dip', 'tip'),
    'middle': ('mcp', 'pip', 'dip', 'tip'),
    'ring': ('mcp', 'pip', 'dip', 'tip'),
    'pinky': ('mcp', 'pip', 'dip', 'tip'),
}

JOINT_NAMES = ('wrist',) + tuple(f'{finger}_{joint}' for finger in FINGERS
                                 for joint in _FINGER_JOINTS[finger])
NUM_JOINTS = len(JOINT_NAMES)
WRIST = 0


def finger_joints(finger):
    """Return the indices of the four joints of ``finger`` ('thumb' ... 'pinky'), palm outwards."""
    start = 1 + 4 * FINGERS.index(finger)
    return tuple(range(start, start + 4))


# Bones as (parent, child) joint index pairs: each finger is a chain starting at the wrist.
BONES = tuple(
    pair for finger in FINGERS
    for pair in zip((WRIST,) + finger_joints(finger)[:-1], finger_joints(finger)))

# WiLoR's ``mano_to_openpose``: 16 MANO joints + 5 tips -> wrist, thumb 1-4, index 1-4,
# middle 1-4, ring 1-4, pinky 1-4.
MANO_TO_OPENPOSE = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
