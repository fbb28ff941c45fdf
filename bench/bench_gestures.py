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
Gesture classification on synthetic hands with known labels (wilor_ros.gestures).

The test fixtures' MANO model has random weights (test/fixtures/a/README.md: "outputs are not
meaningful hands"), so the hands here are built by forward kinematics of a hand skeleton with
realistic bone lengths, posed the MANO way: an axis-angle rotation per joint (15 finger joints,
each relative to its parent bone: flexion, abduction, twist) and a global wrist rotation. Left
hands are the right ones mirrored, as MANO's left model is.

For each gesture: 50 hands per side, each with uniform noise of +-0.15 rad on every component of
every joint rotation and a random wrist orientation and viewpoint (any orientation for the shape
gestures; for THUMB_UP / THUMB_DOWN the thumb within 30 degrees of the camera's up / down axis,
turned freely about it), placed 0.3-1.2 m in front of the camera. Ambiguous hands (fingers half
bent, three fingers out, index and little finger without the thumb) must give OTHER. Then a
steady hand per gesture and side over 90 frames with WiLoR-like frame-to-frame noise (2.5 deg on
every joint rotation and on the wrist, 2 mm per joint) goes through the per-track hysteresis
(3 frames): ``flicker`` counts reported gesture changes after the first report (0 = none); the
same with 5 mm of independent noise per joint is printed too (a harsher, non-WiLoR model).

Last line: ``gestures: accuracy X % (worst GESTURE Y %), flicker N``.
Run: ``python bench/bench_gestures.py --seed 0``
"""

import argparse

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros import gestures as g

# Right hand frame: fingers along +y, palm facing -z, thumb on the +x side; metres.
_MCPS = {'index': (0.025, 0.090, 0.0), 'middle': (0.003, 0.095, 0.0),
         'ring': (-0.018, 0.088, 0.0), 'pinky': (-0.036, 0.078, 0.0)}
_BONES = {'thumb': (0.040, 0.032, 0.028), 'index': (0.040, 0.025, 0.020),
          'middle': (0.045, 0.028, 0.022), 'ring': (0.040, 0.026, 0.021),
          'pinky': (0.032, 0.020, 0.018)}
_SPREAD = {'index': 0.12, 'middle': 0.0, 'ring': -0.12, 'pinky': -0.25}  # rad about z
_THUMB_CMC = np.array([0.020, 0.025, -0.010])
_THUMB_DIRECTION = np.array([0.75, 0.6, -0.25])
_THUMB_FLEX_TOWARDS = np.array([-0.6, 0.3, -0.7])  # where thumb flexion moves its tip

# Joint rotations per finger state: three joints x (flexion, abduction, twist), rad.
_STATES = {
    'E': ((0.05, 0.0, 0.0), (0.05, 0.0, 0.0), (0.05, 0.0, 0.0)),
    'C': ((1.45, 0.0, 0.0), (1.6, 0.0, 0.0), (0.9, 0.0, 0.0)),
    'H': ((0.45, 0.0, 0.0), (0.5, 0.0, 0.0), (0.3, 0.0, 0.0)),  # half bent
    'O': ((0.0, 0.0, 0.0), (0.1, 0.0, 0.0), (0.1, 0.0, 0.0)),  # thumb out
    'T': ((0.55, 0.0, 0.0), (0.9, 0.0, 0.0), (0.8, 0.0, 0.0)),  # thumb tucked
    'P': ((0.55, 0.0, 0.0), (0.5, 0.0, 0.0), (0.4, 0.0, 0.0)),  # thumb towards the index
}
# Test poses: thumb, index, middle, ring, pinky states; expected gesture.
POSES = {
    'OPEN_PALM': ('OEEEE', g.OPEN_PALM),
    'CLOSED_FIST': ('TCCCC', g.CLOSED_FIST),
    'POINTING_UP': ('TECCC', g.POINTING_UP),
    'VICTORY': ('TEECC', g.VICTORY),
    'LOVE': ('OECCE', g.LOVE),
    'THUMB_UP': ('OCCCC', g.THUMB_UP),
    'THUMB_DOWN': ('OCCCC', g.THUMB_DOWN),
    'OTHER (half bent)': ('HHHHH', g.OTHER),
    'OTHER (three fingers)': ('TEEEC', g.OTHER),
    'OTHER (horns)': ('TECCE', g.OTHER),
}
NOISE = 0.15
HANDS = 50
STEADY_FRAMES = 90
# WiLoR's joints are MANO's forward kinematics of its joint rotations, so its frame-to-frame
# noise is in the rotations: 2.5 deg on every rotation (bench_tracking.py's WiLoR-like noise),
# plus 2 mm per joint (what smoothing each joint on its own leaves).
STEADY_ROTATION = np.radians(2.5)
STEADY_JOINTS = 0.002


def _rest_frame(direction, flex_towards):
    """Return the rest rotation: local y along ``direction``, local -z towards ``flex_towards``."""
    y_axis = direction / np.linalg.norm(direction)
    minus_z = flex_towards - np.dot(flex_towards, y_axis) * y_axis
    z_axis = -minus_z / np.linalg.norm(minus_z)
    return np.stack([np.cross(y_axis, z_axis), y_axis, z_axis], axis=1)


def finger_rotvecs(states, rng=None, noise=NOISE):
    """Return the (15, 3) joint rotations (MANO-style axis-angles) of 5 finger states."""
    rotvecs = []
    for state in states:
        for flexion, abduction, twist in _STATES[state]:
            # Local axes: flexion about -x (bends towards local -z), abduction about z, twist y.
            rotvecs.append((-flexion, twist, abduction))
    rotvecs = np.array(rotvecs, dtype=np.float64)
    if rng is not None:
        rotvecs += rng.uniform(-noise, noise, rotvecs.shape)
    return rotvecs


def hand_joints(rotvecs):
    """Forward kinematics: the 21 joints (OpenPose order) of a right hand in its own frame."""
    joints = np.zeros((21, 3))
    for finger_index, finger in enumerate(('thumb', 'index', 'middle', 'ring', 'pinky')):
        if finger == 'thumb':
            base, rest = _THUMB_CMC, _rest_frame(_THUMB_DIRECTION, _THUMB_FLEX_TOWARDS)
        else:
            spread = Rotation.from_rotvec([0.0, 0.0, _SPREAD[finger]]).as_matrix()
            base, rest = np.array(_MCPS[finger]), spread
        joints[1 + 4 * finger_index] = base
        position, frame = base.copy(), rest
        for bone, length in enumerate(_BONES[finger]):
            frame = frame @ Rotation.from_rotvec(rotvecs[3 * finger_index + bone]).as_matrix()
            position = position + frame @ np.array([0.0, length, 0.0])
            joints[2 + 4 * finger_index + bone] = position
    return joints


def _thumb_towards(joints, target, rng):
    """Return a rotation putting the thumb (MCP -> tip) within 30 deg of ``target``."""
    while True:
        direction = Rotation.random(random_state=rng).apply([0.0, 0.0, 1.0])
        if np.dot(direction, target) >= np.cos(np.radians(30.0)):
            break
    thumb = joints[4] - joints[2]
    align, _ = Rotation.align_vectors([direction], [thumb])
    spin = Rotation.from_rotvec(direction * rng.uniform(0, 2 * np.pi))
    return spin * align


def posed_hand(states, gesture, is_right, rng, noise=NOISE):
    """Return a labelled synthetic hand's 21 joints in the camera frame (see the module docs)."""
    joints = hand_joints(finger_rotvecs(states, rng, noise))
    if not is_right:
        joints = joints * np.array([-1.0, 1.0, 1.0])  # MANO's left hand: the right mirrored
    if gesture == g.THUMB_UP:
        rotation = _thumb_towards(joints, g.CAMERA_UP, rng)
    elif gesture == g.THUMB_DOWN:
        rotation = _thumb_towards(joints, -g.CAMERA_UP, rng)
    else:
        rotation = Rotation.random(random_state=rng)
    translation = rng.uniform([-0.3, -0.3, 0.3], [0.3, 0.3, 1.2])
    return rotation.apply(joints) + translation


def accuracy_table(seed=0, hands=HANDS):
    """Return {pose name: (correct fraction, {gesture name: count})} over both sides."""
    rng = np.random.default_rng(seed)
    table = {}
    for name, (states, expected) in POSES.items():
        counts = {}
        for is_right in (True, False):
            for _ in range(hands):
                reading = g.classify(posed_hand(states, expected, is_right, rng))
                label = g.GESTURE_NAMES[reading.gesture]
                counts[label] = counts.get(label, 0) + 1
        table[name] = (counts.get(g.GESTURE_NAMES[expected], 0) / (2 * hands), counts)
    return table


def steady_flicker(seed=0, hold_frames=3, frames=STEADY_FRAMES, rotation_noise=STEADY_ROTATION,
                   joint_noise=STEADY_JOINTS):
    """Return (flicker, wrong) summed over steady noisy sequences of every gesture, both sides."""
    rng = np.random.default_rng(seed + 1)
    flicker = wrong = 0
    for states, expected in POSES.values():
        if expected == g.OTHER:
            continue
        for is_right in (True, False):
            rotvecs = finger_rotvecs(states, rng)
            pose = posed_hand(states, expected, is_right, rng, noise=0.0)
            hysteresis = g.GestureHysteresis(hold_frames)
            reported = []
            for frame in range(frames):
                joints = hand_joints(rotvecs + rng.normal(0.0, rotation_noise, rotvecs.shape))
                if not is_right:
                    joints = joints * np.array([-1.0, 1.0, 1.0])
                # The same wrist pose as ``pose`` (fitted), turned by the wrist's own noise.
                rotation, _ = Rotation.align_vectors(pose[1:] - pose[0], joints[1:] - joints[0])
                wobble = Rotation.from_rotvec(rng.normal(0.0, rotation_noise, 3))
                noisy = (wobble * rotation).apply(joints - joints[0]) + pose[0]
                noisy += rng.normal(0.0, joint_noise, noisy.shape)
                gesture, _ = hysteresis.update('1', g.classify(noisy), frame / 30.0)
                reported.append(gesture)
            first = next((i for i, r in enumerate(reported) if r != g.OTHER), len(reported))
            flicker += sum(a != b for a, b in zip(reported[first:-1], reported[first + 1:]))
            wrong += sum(r != expected for r in reported[first:]) + (first == len(reported))
    return flicker, wrong


def main():
    """Print the per-gesture table and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--hands', type=int, default=HANDS, help='hands per gesture and side')
    args = parser.parse_args()
    table = accuracy_table(args.seed, args.hands)
    for name, (accuracy, counts) in table.items():
        print(f'{name:24s} {accuracy * 100:6.1f} %  {counts}')
    harsh, harsh_wrong = steady_flicker(args.seed, rotation_noise=0.0, joint_noise=0.005)
    print(f'steady, 5 mm independent noise per joint: flicker {harsh}, {harsh_wrong} wrong '
          f'frame(s)')
    flicker, wrong = steady_flicker(args.seed)
    worst = min(table, key=lambda name: table[name][0])
    total = np.mean([accuracy for accuracy, _ in table.values()])
    print(f'steady, WiLoR-like noise: {wrong} frame(s) reporting a wrong gesture after the '
          'first report')
    print(f'gestures: accuracy {total * 100:.1f} % '
          f'(worst {worst} {table[worst][0] * 100:.1f} %), flicker {flicker}')


if __name__ == '__main__':
    main()
