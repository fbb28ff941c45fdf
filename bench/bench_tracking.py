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
Benchmark of tracking + One-Euro smoothing on synthetic WiLoR-like hand sequences.

A ground-truth hand (21 joints from a small kinematic model, MANO-style axis-angle rotations)
rests, sweeps 0.4 m sideways at 1 m/s, rests, sweeps back, while its fingers open and close
and its wrist turns. Each frame gets noise of the size WiLoR shows: 5 mm per joint (root
relative), 15 mm depth error of the whole hand along the viewing ray, 2 mm lateral, 1.5 px on
2-D keypoints, 2.5 deg on every rotation. Sequences: 30 Hz, and jittered 25-40 Hz stamps with a
dropped frame. Measured, raw vs filtered:

* jitter: mean magnitude of the joints' acceleration (non-uniform second difference), m/s^2;
* error: mean joint distance to ground truth, mm;
* lag in the fast phase (ground-truth wrist speed >= 0.5 m/s): the time shift tau that best
  explains the error as a delay, least squares of ``error = -tau * velocity``, in frames of the
  sequence's median interval.

The last printed line is the worst case over all sequences:
``jitter reduction: NN%, error reduction: NN%, lag: N.N frames``.

Run: ``python bench/bench_tracking.py [--seeds N] [--min-cutoff ..] [--beta ..] ...``
"""

import argparse
import dataclasses
import time

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros.hand import HandResult
from wilor_ros.smoothing import SmoothingConfig
from wilor_ros.tracking import HandTracker

FOCAL = 600.0
PRINCIPAL_POINT = np.array([320.0, 240.0])
FAST_SPEED = 0.5  # m/s: frames with a faster ground-truth wrist belong to the fast phase

# Hand model in the hand frame (metres): finger base directions and bone lengths, thumb first,
# in OpenPose order (wrist, then 4 joints per finger: thumb, index, middle, ring, pinky).
_FINGER_SPREAD = np.radians([-50.0, -15.0, 0.0, 12.0, 25.0])
_BONES = np.array([[0.035, 0.035, 0.030, 0.025],
                   [0.090, 0.040, 0.025, 0.020],
                   [0.090, 0.045, 0.028, 0.022],
                   [0.085, 0.040, 0.026, 0.020],
                   [0.080, 0.030, 0.020, 0.018]])


def wrist_path(t):
    """Ground-truth wrist position (T, 3): rest, 1 m/s sweep right, rest, sweep back, rest."""
    t = np.asarray(t, dtype=np.float64)

    def sweep(start):
        # Velocity: 0.1 s cosine ramp up, 0.3 s at 1 m/s, 0.1 s ramp down: 0.4 m in 0.5 s.
        u = np.clip(t - start, 0.0, 0.5)
        ramp = 0.1
        up = np.minimum(u, ramp)
        distance = 0.5 * (up - ramp / np.pi * np.sin(np.pi * up / ramp))
        distance += np.clip(u - ramp, 0.0, 0.3)
        down = np.clip(u - 0.4, 0.0, ramp)
        distance += 0.5 * (down + ramp / np.pi * np.sin(np.pi * down / ramp))
        return distance

    x = -0.2 + sweep(1.5) - sweep(3.5) + 0.01 * np.sin(2 * np.pi * 0.4 * t)
    y = 0.05 + 0.01 * np.sin(2 * np.pi * 0.3 * t + 1.0)
    z = 0.6 + 0.02 * np.sin(2 * np.pi * 0.25 * t)
    return np.stack([x, y, z], axis=-1)


def hand_rotations(t):
    """Ground-truth global orientation (T,) Rotation and finger flexion angles (T, 5, 3)."""
    t = np.asarray(t, dtype=np.float64)
    # The wrist turns by ~1 rad during each sweep (pronation) and sways slowly otherwise.
    turn = np.clip((t - 1.5) / 0.5, 0, 1) - np.clip((t - 3.5) / 0.5, 0, 1)
    turn = 1.0 * (0.5 - 0.5 * np.cos(np.pi * turn))
    sway = 0.2 * np.sin(2 * np.pi * 0.3 * t)
    global_orient = Rotation.from_rotvec(np.stack([sway, turn, 0.1 * sway], axis=-1))
    phase = np.arange(5)[None, :, None] * 0.5 + np.arange(3)[None, None, :] * 0.3
    flexion = 0.6 + 0.5 * np.sin(2 * np.pi * 1.0 * t[:, None, None] + phase)
    return global_orient, flexion


def hand_joints(t):
    """Ground truth at times ``t``: joints (T, 21, 3), cam_t (T, 3), rotvecs (T, 16, 3)."""
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    wrist = wrist_path(t)
    global_orient, flexion = hand_rotations(t)
    local = np.zeros((len(t), 21, 3))
    flex_rotvecs = np.zeros((len(t), 15, 3))
    for finger in range(5):
        spread = _FINGER_SPREAD[finger]
        direction = np.array([np.sin(spread), -np.cos(spread), 0.0])
        # Flexion bends the finger towards the palm (+z in the hand frame) about its side axis.
        side_axis = np.cross(direction, [0.0, 0.0, 1.0])
        position = np.zeros((len(t), 3))
        angle = np.zeros(len(t))
        for bone in range(4):
            if bone > 0:
                angle = angle + flexion[:, finger, bone - 1]
                flex_rotvecs[:, 3 * finger + bone - 1] = flexion[:, finger, bone - 1, None] \
                    * side_axis
            bent = Rotation.from_rotvec(angle[:, None] * side_axis).apply(direction)
            position = position + _BONES[finger, bone] * bent
            local[:, 1 + 4 * finger + bone] = position
    joints = wrist[:, None, :] + np.einsum('tij,tkj->tki', global_orient.as_matrix(), local)
    rotvecs = np.concatenate([global_orient.as_rotvec()[:, None], flex_rotvecs], axis=1)
    return joints, wrist, rotvecs


def project(points):
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    return FOCAL * points[..., :2] / points[..., 2:3] + PRINCIPAL_POINT


def make_stamps(kind, duration, rng):
    """Frame stamps (s): 'regular' 30 Hz, or 'jittered' 25-40 Hz with one dropped frame."""
    if kind == 'regular':
        return np.arange(0.0, duration, 1.0 / 30.0)
    if kind == 'jittered':
        steps = 1.0 / rng.uniform(25.0, 40.0, size=int(duration * 40) + 1)
        stamps = np.cumsum(np.concatenate([[0.0], steps]))
        stamps = stamps[stamps < duration]
        # Drop a frame in the middle of the first sweep, the hardest place to miss one.
        drop = int(np.argmin(np.abs(stamps - 1.75)))
        return np.delete(stamps, drop)
    raise ValueError(f'unknown stamp pattern {kind!r}, expected regular or jittered')


def noisy_hands(stamps, rng):
    """Return (ground-truth joints (T, 21, 3), rotvecs (T, 16, 3), WiLoR-like noisy hands)."""
    joints, cam_t, rotvecs = hand_joints(stamps)
    hands = []
    for i in range(len(stamps)):
        # Depth error moves the whole hand along the viewing ray (WiLoR's weak perspective).
        depth_error = rng.normal(0.0, 0.015)
        scale = 1.0 + depth_error / cam_t[i, 2]
        noisy_cam_t = cam_t[i] * scale + np.append(rng.normal(0.0, 0.002, 2), 0.0)
        relative = joints[i] - cam_t[i] + rng.normal(0.0, 0.005, (21, 3))
        keypoints_2d = project(joints[i]) + rng.normal(0.0, 1.5, (21, 2))
        rotation_noise = Rotation.from_rotvec(rng.normal(0.0, np.radians(2.5) / np.sqrt(3),
                                                         (16, 3)))
        noisy_rot = (Rotation.from_rotvec(rotvecs[i]) * rotation_noise).as_rotvec()
        box = np.concatenate([keypoints_2d.min(0) - 20.0, keypoints_2d.max(0) + 20.0])
        hands.append(HandResult(
            is_right=True, score=0.9, box=box.astype(np.float32),
            keypoints_3d=(relative + noisy_cam_t).astype(np.float32),
            keypoints_2d=keypoints_2d.astype(np.float32),
            keypoints_2d_network=(project(joints[i]) + rng.normal(0.0, 2.0, (21, 2))).astype(
                np.float32),
            global_orient=noisy_rot[0].astype(np.float32),
            hand_pose=noisy_rot[1:].reshape(-1).astype(np.float32),
            betas=rng.normal(0.0, 0.05, 10).astype(np.float32),
            cam_t=noisy_cam_t.astype(np.float32), focal_length=FOCAL,
            principal_point=PRINCIPAL_POINT.astype(np.float32), focal_from_camera_info=True))
    return joints, rotvecs, hands


def jitter(points, stamps):
    """Mean acceleration magnitude (m/s^2) of points (T, J, 3) sampled at ``stamps``."""
    dt = np.diff(stamps)[:, None, None]
    velocity = np.diff(points, axis=0) / dt
    acceleration = 2.0 * np.diff(velocity, axis=0) / (dt[1:] + dt[:-1])
    return float(np.linalg.norm(acceleration, axis=-1).mean())


def joint_error(points, truth):
    """Mean joint distance (mm)."""
    return 1000.0 * float(np.linalg.norm(points - truth, axis=-1).mean())


def lag_frames(points, stamps):
    """Delay (frames of the median interval) of ``points`` behind ground truth, fast phase."""
    truth = hand_joints(stamps)[0]
    eps = 1e-4
    velocity = (hand_joints(stamps + eps)[0] - hand_joints(stamps - eps)[0]) / (2 * eps)
    fast = np.linalg.norm(velocity[:, 0], axis=-1) >= FAST_SPEED
    error = (points - truth)[fast]
    velocity = velocity[fast]
    delay = -float(np.sum(error * velocity) / np.sum(velocity * velocity))
    return delay / float(np.median(np.diff(stamps)))


def rotation_jitter(rotvecs, stamps):
    """Mean angular acceleration magnitude (rad/s^2) of rotation sets (T, N, 3)."""
    rotations = Rotation.from_rotvec(rotvecs.reshape(-1, 3))
    count = rotvecs.shape[1]
    dt = np.diff(stamps)[:, None, None]
    # Body-frame angular velocity between consecutive frames.
    steps = (rotations[:-count].inv() * rotations[count:]).as_rotvec().reshape(-1, count, 3)
    velocity = steps / dt
    acceleration = 2.0 * np.diff(velocity, axis=0) / (dt[1:] + dt[:-1])
    return float(np.linalg.norm(acceleration, axis=-1).mean())


def rotation_error_deg(rotvecs, truth):
    """Mean geodesic angle (deg) between rotation sets (T, N, 3)."""
    difference = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).inv() * Rotation.from_rotvec(
        truth.reshape(-1, 3))
    return float(np.degrees(difference.magnitude()).mean())


def run_sequence(kind, seed, config, duration=6.0):
    """Track + smooth one synthetic sequence; return a dict of raw and filtered metrics."""
    rng = np.random.default_rng(seed)
    stamps = make_stamps(kind, duration, rng)
    truth, truth_rot, hands = noisy_hands(stamps, rng)
    tracker = HandTracker(smoothing=config)
    filtered, ids = [], set()
    start = time.perf_counter()
    for hand, stamp in zip(hands, stamps):
        (result,) = tracker.update([hand], stamp)
        filtered.append(result)
        ids.add(result.track_id)
    seconds_per_frame = (time.perf_counter() - start) / len(stamps)

    def stack(results, name):
        return np.stack([getattr(h, name) for h in results]).astype(np.float64)

    def rotations(results):
        return np.concatenate([stack(results, 'global_orient')[:, None],
                               stack(results, 'hand_pose').reshape(len(results), 15, 3)], 1)

    raw_points, points = stack(hands, 'keypoints_3d'), stack(filtered, 'keypoints_3d')
    raw_2d, points_2d = stack(hands, 'keypoints_2d'), stack(filtered, 'keypoints_2d')
    raw_rotations, filtered_rotations = rotations(hands), rotations(filtered)
    truth_2d = project(truth)
    return {
        'kind': kind, 'seed': seed, 'frames': len(stamps), 'ids': len(ids),
        'us_per_frame': 1e6 * seconds_per_frame,
        'jitter': (jitter(raw_points, stamps), jitter(points, stamps)),
        'error': (joint_error(raw_points, truth), joint_error(points, truth)),
        'lag': (lag_frames(raw_points, stamps), lag_frames(points, stamps)),
        'jitter_2d': (jitter(raw_2d, stamps), jitter(points_2d, stamps)),
        'error_2d': (float(np.linalg.norm(raw_2d - truth_2d, axis=-1).mean()),
                     float(np.linalg.norm(points_2d - truth_2d, axis=-1).mean())),
        'jitter_rotation': (rotation_jitter(raw_rotations, stamps),
                            rotation_jitter(filtered_rotations, stamps)),
        'error_rotation': (rotation_error_deg(raw_rotations, truth_rot),
                           rotation_error_deg(filtered_rotations, truth_rot)),
    }


def reduction(pair):
    """Percent reduction from raw (first) to filtered (second)."""
    return 100.0 * (1.0 - pair[1] / pair[0])


def summarize(results):
    """Worst case over sequences: (jitter reduction %, error reduction %, lag frames)."""
    return (min(reduction(r['jitter']) for r in results),
            min(reduction(r['error']) for r in results),
            max(r['lag'][1] for r in results))


def print_table(results, title, *metrics):
    """Print raw -> filtered values and reductions of ``metrics`` ((key, unit), ...)."""
    header = f'{title:<16} {"frames":>6} {"ids":>3}'
    for key, unit in metrics:
        header += f' {key + " " + unit + " raw->filtered":>34}'
    if title == 'keypoints_3d':
        header += f' {"lag frames raw->filtered":>25} {"us/frame":>8}'
    print(header)
    for r in results:
        line = f'{r["kind"] + "/" + str(r["seed"]):<16} {r["frames"]:>6} {r["ids"]:>3}'
        for key, _ in metrics:
            line += f' {r[key][0]:>15.3f} -> {r[key][1]:>8.3f} ({reduction(r[key]):4.0f}%)'
        if title == 'keypoints_3d':
            line += f' {r["lag"][0]:>14.2f} -> {r["lag"][1]:>5.2f} {r["us_per_frame"]:>8.0f}'
        print(line)


def main():
    """Run the sequences, print a table and the summary line."""
    defaults = SmoothingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--duration', type=float, default=6.0)
    for field in dataclasses.fields(SmoothingConfig):
        parser.add_argument('--' + field.name.replace('_', '-'), type=float,
                            default=getattr(defaults, field.name))
    args = parser.parse_args()
    config = SmoothingConfig(**{f.name: getattr(args, f.name)
                                for f in dataclasses.fields(SmoothingConfig)})
    print(config)
    results = [run_sequence(kind, seed, config, args.duration)
               for kind in ('regular', 'jittered') for seed in range(args.seeds)]
    print_table(results, 'keypoints_3d', ('jitter', 'm/s^2'), ('error', 'mm'))
    print_table(results, 'keypoints_2d', ('jitter_2d', 'px/s^2'), ('error_2d', 'px'))
    print_table(results, 'MANO rotations', ('jitter_rotation', 'rad/s^2'),
                ('error_rotation', 'deg'))
    jitter_reduction, error_reduction, lag = summarize(results)
    print(f'jitter reduction: {jitter_reduction:.0f}%, error reduction: {error_reduction:.0f}%, '
          f'lag: {lag:.1f} frames')


if __name__ == '__main__':
    main()
