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
The wrist frame of a hand: a pose (translation + quaternion) in the camera optical frame.

Origin: the wrist joint (``keypoints_3d[WRIST]``, after any RGB-D scaling). Orientation: the MANO
global orientation (``global_orient``, the root rotation, which turns the MANO model about the
wrist joint), so the frame's axes are the MANO model's axes carried along with the hand:

* right hand (MANO right model): **-x** points from the wrist along the flat fingers, **+z**
  towards the thumb side, **-y** out of the palm (x: from the fingers to the wrist);
* left hand (MANO left model = the right one mirrored in x, and ``global_orient`` mirrored as
  ``(x, -y, -z)`` accordingly): **+x** along the flat fingers, **+z** towards the thumb side,
  **-y** out of the palm.

Both frames are right-handed rotations (the mirroring is in the model, not in the frame). The
axes follow the hand's root, not the fingers: a fist has the same frame as the flat hand.
"""

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros.skeleton import WRIST


def wrist_pose(hand):
    """
    Return the wrist frame of ``hand`` as (translation (3,), quaternion (x, y, z, w)).

    Both float64, in the camera optical frame (metres); the quaternion is normalised with
    w >= 0.
    """
    translation = np.asarray(hand.keypoints_3d, dtype=np.float64)[WRIST].copy()
    quaternion = Rotation.from_rotvec(
        np.asarray(hand.global_orient, dtype=np.float64).reshape(3)).as_quat()
    if quaternion[3] < 0:
        quaternion = -quaternion
    return translation, quaternion


def hand_frame_names(hands, pattern='hand_{id}'):
    """
    Child frame names for the hands of one image, from ``pattern``.

    Placeholders: ``{id}`` the track id (``u<index>`` for an untracked hand), ``{side}``
    'left' / 'right', ``{index}`` the position in the list. With a pattern such as
    ``{side}_hand`` a second hand of the same side would repeat a name: it gets ``_<id>``
    appended, so names are always unique.
    """
    names, seen = [], set()
    for index, hand in enumerate(hands):
        track = str(hand.track_id) or f'u{index}'
        name = pattern.format(id=track, side='right' if hand.is_right else 'left',
                              index=index)
        if name in seen:
            name = f'{name}_{track}'
        seen.add(name)
        names.append(name)
    return names


def check_frame_pattern(pattern):
    """Return why ``pattern`` cannot name frames, or None when it can."""
    try:
        name = pattern.format(id='1', side='left', index=0)
    except (KeyError, IndexError, ValueError) as error:
        return f'must use only the placeholders {{id}}, {{side}}, {{index}} ({error})'
    if not name or name.startswith('/') or any(c.isspace() for c in name):
        return f'gives the frame name {name!r}: not empty, no leading "/", no spaces'
    return None
