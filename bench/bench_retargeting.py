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
Round trip of the retargeting with known truth, on the LEAP-like test hand (test/robots).

For each of N random robot poses (joint angles within the URDF limits): forward kinematics
(pinocchio, through dex-retargeting's robot wrapper) gives the robot's wrist, MCP, PIP, DIP and
fingertip positions; divided by the configuration's scaling factor they become a human hand's 21
joints (the missing little finger is the ring finger shifted towards the little-finger side),
which are then turned and moved into a random camera pose, as WiLoR reports them. The
retargeter (:class:`wilor_ros.retargeting.HandRetargeter`: operator frame from the joints,
dex-retargeting with the shipped LEAP configuration) turns them back into joint angles, forward
kinematics again gives the fingertips, compared with the true ones in the robot's base frame.

The poses form a teleoperation stream (the default): uniform random key poses within the
limits, a new one every 10 frames, the frames between them on the way (linear in joint space),
so each frame starts from the previous frame's solution as it does in the node. ``--cold``
solves independent uniform poses from the middle of the limits instead (dex-retargeting's
regulariser then pulls towards that start: larger errors). The last line:
``retargeting: median X mm, p95 Y mm, Z ms per frame`` (fingertip error in the robot's base
frame, robot scale; time of the retargeting call alone, which includes the operator frame).

Run: ``python bench/bench_retargeting.py --seed 0 [--poses 500] [--side right] [--mode vector]``
"""

import argparse
import pathlib
import time

import numpy as np
from scipy.spatial.transform import Rotation
import torch

from wilor_ros.retargeting import HandRetargeter

ROBOTS_DIR = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'robots'
# Robot links standing for the human joints, OpenPose order (thumb CMC, MCP, IP, tip; fingers
# MCP, PIP, DIP, tip), as dex-retargeting's LEAP configurations pair them.
HUMAN_LINKS = ('base',
               'pip_4', 'thumb_dip', 'thumb_fingertip', 'thumb_tip_head',
               'mcp_joint', 'dip', 'fingertip', 'index_tip_head',
               'mcp_joint_2', 'dip_2', 'fingertip_2', 'middle_tip_head',
               'mcp_joint_3', 'dip_3', 'fingertip_3', 'ring_tip_head')
TIP_LINKS = ('thumb_tip_head', 'index_tip_head', 'middle_tip_head', 'ring_tip_head')
LITTLE_FINGER_SHIFT = 0.02  # m, robot scale, towards the little-finger side
FRAMES_PER_KEY = 10  # a new random key pose every 1/3 s at 30 Hz


def link_positions(robot, qpos, names):
    """Forward kinematics: positions (len(names), 3) of the named links in the base frame."""
    robot.compute_forward_kinematics(np.asarray(qpos, dtype=np.float64))
    return np.stack([robot.get_link_pose(robot.get_link_index(name))[:3, 3] for name in names])


def human_keypoints(robot, qpos, scaling, is_right, rng):
    """Return the 21 human joints (camera frame) that the robot pose ``qpos`` stands for."""
    links = link_positions(robot, qpos, HUMAN_LINKS)
    ring = links[13:17]
    little_side = np.array([0.0, -1.0 if is_right else 1.0, 0.0])
    little = ring + LITTLE_FINGER_SHIFT * little_side
    points = np.concatenate([links, little]) / scaling
    rotation = Rotation.random(random_state=rng)
    translation = rng.uniform([-0.3, -0.3, 0.4], [0.3, 0.3, 1.2])
    return rotation.apply(points) + translation


def pose_sequence(rng, limits, poses, cold):
    """
    Yield ``poses`` true joint vectors within ``limits``.

    ``cold``: independent uniform draws. Otherwise a teleoperation stream at 30 Hz: uniform
    random key poses, each reached from the previous one in FRAMES_PER_KEY frames (linear in
    joint space), so every frame is a random pose that the previous frame started close to.
    """
    if cold:
        for _ in range(poses):
            yield rng.uniform(limits[:, 0], limits[:, 1])
        return
    start = rng.uniform(limits[:, 0], limits[:, 1])
    count = 0
    while True:
        goal = rng.uniform(limits[:, 0], limits[:, 1])
        for step in range(1, FRAMES_PER_KEY + 1):
            yield start + (goal - start) * step / FRAMES_PER_KEY
            count += 1
            if count == poses:
                return
        start = goal


def round_trip(seed=0, poses=500, side='right', mode='vector', urdf_dir=ROBOTS_DIR,
               cold=False):
    """Return (fingertip errors (poses, 4) in m, seconds per retargeting) of ``poses`` poses."""
    rng = np.random.default_rng(seed)
    retargeter = HandRetargeter('leap', mode, side, urdf_dir)
    optimizer = retargeter.optimizer
    robot = optimizer.robot
    scaling = getattr(optimizer, 'scaling', 1.0)
    limits = robot.joint_limits
    errors, seconds = [], 0.0
    for truth in pose_sequence(rng, limits, poses, cold):
        keypoints = human_keypoints(robot, truth, scaling, side == 'right', rng)
        if cold:
            retargeter.reset()
        start = time.perf_counter()
        qpos = retargeter.retarget(keypoints)
        seconds += time.perf_counter() - start
        errors.append(np.linalg.norm(link_positions(robot, qpos, TIP_LINKS)
                                     - link_positions(robot, truth, TIP_LINKS), axis=1))
    return np.array(errors), seconds / poses


def main():
    """Run the round trip and print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--poses', type=int, default=500)
    parser.add_argument('--side', choices=('right', 'left'), default='right')
    parser.add_argument('--mode', choices=('vector', 'dexpilot'), default='vector')
    parser.add_argument('--cold', action='store_true',
                        help='independent poses, each solved from the middle of the limits')
    args = parser.parse_args()
    torch.set_num_threads(1)  # dex-retargeting's tensors are tiny: threads only add overhead.
    errors, seconds = round_trip(args.seed, args.poses, args.side, args.mode, cold=args.cold)
    per_finger = np.median(errors, axis=0) * 1000
    print('median fingertip error per finger (mm): ' + ', '.join(
        f'{name.split("_")[0]} {value:.2f}' for name, value in zip(TIP_LINKS, per_finger)))
    print(f'max {errors.max() * 1000:.1f} mm; poses {len(errors)}, side {args.side}, '
          f'mode {args.mode}, seed {args.seed}')
    print(f'retargeting: median {np.median(errors) * 1000:.2f} mm, '
          f'p95 {np.percentile(errors, 95) * 1000:.2f} mm, {seconds * 1000:.2f} ms per frame')


if __name__ == '__main__':
    main()
