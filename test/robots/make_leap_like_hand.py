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
Write the LEAP-like test hands ``leap_hand/leap_hand_{right,left}.urdf``.

The tests and ``bench/bench_retargeting.py`` use them.
The real robot descriptions are not ours to ship (dexsuite/dex-urdf), so the round trip runs on
a hand written here: LEAP Hand kinematics (three fingers and a thumb, 16 revolute joints named
"0" ... "15" as on the LEAP Hand, its joint limits, LEAP-sized links) with the link names
dex-retargeting's shipped LEAP configurations use (``base``, ``*_tip_head``, ``dip``,
``thumb_dip``, ...), so ``robot=leap`` with ``urdf_dir`` = this folder runs the shipped configs
unchanged. No meshes or inertias: only kinematics matter here.

The base frame is the operator frame of dex-retargeting (X out of the palm, Z along the fingers,
Y towards the thumb side on the right hand); the left hand is the right one mirrored in Y.
Run ``python test/robots/make_leap_like_hand.py`` after changing the numbers below.
"""

import pathlib

import numpy as np

# Finger MCP positions in the right base frame (m): index, middle, ring (LEAP spacing ~45 mm).
FINGER_MCPS = {'': (0.0, 0.045, 0.095), '_2': (0.0, 0.0, 0.099), '_3': (0.0, -0.045, 0.095)}
# Along the finger (m): MCP flexion -> abduction -> PIP -> DIP -> tip, LEAP-sized.
FINGER_SEGMENTS = (0.012, 0.045, 0.036, 0.048)
# LEAP limits (rad): MCP flexion, abduction, PIP, DIP.
FINGER_LIMITS = ((-0.314, 2.23), (-1.047, 1.047), (-0.506, 1.885), (-0.366, 2.042))
THUMB_CMC = (0.012, 0.030, 0.035)
THUMB_DIRECTION = np.array([0.0, 0.857, 0.514])  # out to the thumb side and up, unit
THUMB_SEGMENTS = (0.015, 0.046, 0.040, 0.050)
# LEAP thumb limits (rad): CMC rotation, CMC abduction, MCP, IP.
THUMB_LIMITS = ((-0.349, 2.094), (-0.47, 2.443), (-1.20, 1.90), (-1.34, 1.88))
TIPS = {'': 'index_tip_head', '_2': 'middle_tip_head', '_3': 'ring_tip_head'}


def _vec(values):
    return ' '.join(f'{v:.6f}' for v in values)


def _revolute(name, parent, child, xyz, axis, limits):
    low, high = limits
    return (f'  <joint name="{name}" type="revolute">\n'
            f'    <origin xyz="{_vec(xyz)}" rpy="0 0 0"/>\n'
            f'    <parent link="{parent}"/>\n    <child link="{child}"/>\n'
            f'    <axis xyz="{_vec(axis)}"/>\n'
            f'    <limit effort="0.95" velocity="8.48" lower="{low}" upper="{high}"/>\n'
            f'  </joint>\n')


def _fixed(name, parent, child, xyz):
    return (f'  <joint name="{name}" type="fixed">\n'
            f'    <origin xyz="{_vec(xyz)}" rpy="0 0 0"/>\n'
            f'    <parent link="{parent}"/>\n    <child link="{child}"/>\n  </joint>\n')


def hand_urdf(side):
    """Return the URDF text of the ``side`` ('right' or 'left') LEAP-like hand."""
    # Mirroring in Y: positions (x, -y, z); rotation axes are pseudo-vectors: (-x, y, -z).
    mirror = np.array([1.0, -1.0, 1.0]) if side == 'left' else np.ones(3)
    axis_mirror = np.array([-1.0, 1.0, -1.0]) if side == 'left' else np.ones(3)
    links, joints = ['base', 'palm_lower'], [_fixed('base_joint', 'base', 'palm_lower', (0, 0, 0))]
    number = 0
    for suffix, mcp in FINGER_MCPS.items():
        names = [f'mcp_joint{suffix}', f'pip{suffix}', f'dip{suffix}', f'fingertip{suffix}']
        links += names + [TIPS[suffix]]
        flex, abduction = np.array([0.0, 1.0, 0.0]), np.array([-1.0, 0.0, 0.0])
        offsets = [np.array(mcp)] + [np.array([0.0, 0.0, s]) for s in FINGER_SEGMENTS[:3]]
        parents = ['palm_lower'] + names[:3]
        axes = [flex, abduction, flex, flex]
        # LEAP numbering per finger: 1 = MCP flexion, 0 = abduction, 2 = PIP, 3 = DIP.
        for k, order in enumerate((1, 0, 2, 3)):
            joints.append(_revolute(str(number + order), parents[k], names[k],
                                    offsets[k] * mirror, axes[k] * axis_mirror,
                                    FINGER_LIMITS[k]))
        joints.append(_fixed(f'{TIPS[suffix]}_joint', names[3], TIPS[suffix],
                             np.array([0.0, 0.0, FINGER_SEGMENTS[3]]) * mirror))
        number += 4
    names = ['pip_4', 'thumb_pip', 'thumb_dip', 'thumb_fingertip']
    links += names + ['thumb_tip_head']
    direction = THUMB_DIRECTION / np.linalg.norm(THUMB_DIRECTION)
    # Flexion about direction x X bends the thumb towards the palm (+X).
    thumb_flex = np.cross(direction, [1.0, 0.0, 0.0])
    axes = [np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0]), thumb_flex, thumb_flex]
    offsets = [np.array(THUMB_CMC)] + [direction * s for s in THUMB_SEGMENTS[:3]]
    parents = ['palm_lower'] + names[:3]
    for k in range(4):
        joints.append(_revolute(str(12 + k), parents[k], names[k], offsets[k] * mirror,
                                axes[k] * axis_mirror, THUMB_LIMITS[k]))
    joints.append(_fixed('thumb_tip_head_joint', names[3], 'thumb_tip_head',
                         direction * THUMB_SEGMENTS[3] * mirror))
    body = ''.join(f'  <link name="{name}"/>\n' for name in links) + ''.join(joints)
    return (f'<?xml version="1.0"?>\n<!-- Generated by make_leap_like_hand.py: a LEAP-like test '
            f'hand (kinematics only). -->\n<robot name="leap_like_{side}">\n{body}</robot>\n')


def main():
    """Write both hands next to this file."""
    folder = pathlib.Path(__file__).resolve().parent / 'leap_hand'
    folder.mkdir(exist_ok=True)
    for side in ('right', 'left'):
        (folder / f'leap_hand_{side}.urdf').write_text(hand_urdf(side))


if __name__ == '__main__':
    main()
