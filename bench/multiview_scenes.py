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
Synthetic multi-camera hand scenes with known truth, for bench_multiview and the fusion tests.

The MANO model of the test fixtures has random weights (test/fixtures/a/README.md: "outputs
are not meaningful hands"), so the hands here are a 21-joint skeleton with realistic bone
lengths (adult hand, about 19 cm wrist to middle fingertip) and random finger flexion, in
OpenPose order. Cameras (640x480, fx = fy = 600) stand on an arc around a workspace, looking
at it, neighbours 0.3-1.0 m apart; hands lie 0.4-1.5 m from every camera.

A view's hand is what WiLoR would give: 2D joints = the true projection plus Gaussian noise
(2-3 px; a joint the detector marks unsure has low confidence and 8 px), 3D joints = the
articulated hand (5 mm per joint, 6 degrees of orientation error) at a depth 10-40 % off along
the camera ray (monocular), so the 2D is right and the depth is not.
"""

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros.hand import HandResult

WIDTH, HEIGHT, FOCAL = 640, 480, 600.0
CAMERA_MATRIX = np.array([[FOCAL, 0.0, WIDTH / 2], [0.0, FOCAL, HEIGHT / 2], [0.0, 0.0, 1.0]])

# Hand frame of a right hand: x from the wrist along the fingers, y towards the thumb,
# z out of the back of the hand. Metres.
_MCP = {'index': (0.090, 0.024), 'middle': (0.092, 0.003), 'ring': (0.086, -0.016),
        'pinky': (0.078, -0.033)}
_PHALANGES = {'thumb': (0.040, 0.032, 0.027), 'index': (0.040, 0.024, 0.020),
              'middle': (0.044, 0.028, 0.022), 'ring': (0.041, 0.027, 0.021),
              'pinky': (0.033, 0.019, 0.018)}


def hand_skeleton(rng, is_right=True):
    """Return (21, 3) joints of a hand in its own frame (wrist at the origin), random flexion."""
    joints = [np.zeros(3)]
    # Thumb: CMC beside the wrist, metacarpal pointing 40 degrees towards the thumb side.
    cmc = np.array([0.022, 0.020, -0.008])
    direction = Rotation.from_euler('z', 40, degrees=True).apply([1.0, 0.0, 0.0])
    point = cmc
    joints.append(point)
    for length in _PHALANGES['thumb']:
        direction = Rotation.from_euler('y', rng.uniform(0, 25), degrees=True).apply(direction)
        point = point + length * direction
        joints.append(point)
    for finger in ('index', 'middle', 'ring', 'pinky'):
        x, y = _MCP[finger]
        point = np.array([x, y, 0.0])
        joints.append(point)
        direction = np.array([1.0, 0.0, 0.0])
        spread = rng.uniform(-8, 8)
        direction = Rotation.from_euler('z', spread, degrees=True).apply(direction)
        for length in _PHALANGES[finger]:  # to PIP, DIP, tip
            # Flexion towards the palm (-z) about the finger's side axis.
            direction = Rotation.from_euler('y', rng.uniform(0, 45), degrees=True).apply(
                direction)
            point = point + length * direction
            joints.append(point)
    joints = np.array(joints)
    if not is_right:
        joints[:, 1] = -joints[:, 1]
    return joints


def look_at(position, target):
    """Return the 4x4 pose of a camera at ``position`` looking at ``target`` (world z up)."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = position
    return pose


def camera_rig(rng, count):
    """Return ``count`` camera poses on an arc around the origin, neighbours 0.3-1.0 m apart."""
    distance = rng.uniform(0.9, 1.15)
    poses, azimuth = [], rng.uniform(0, 2 * np.pi)
    for _ in range(count):
        height = rng.uniform(0.2, 0.6)
        radius = np.sqrt(distance ** 2 - height ** 2)
        position = np.array([radius * np.cos(azimuth), radius * np.sin(azimuth), height])
        poses.append(look_at(position, rng.normal(0, 0.03, 3)))
        baseline = rng.uniform(0.35, 0.9)
        azimuth += 2 * np.arcsin(baseline / (2 * radius))
    return poses


@dataclasses.dataclass
class TrueHand:
    """A hand of the scene: side, person, joints in the world frame, orientation."""

    is_right: bool
    person: int
    joints: np.ndarray
    rotation: Rotation
    model: np.ndarray


def _project(pose, points):
    camera = (np.linalg.inv(pose) @ np.c_[points, np.ones(len(points))].T).T[:, :3]
    return camera, (camera @ CAMERA_MATRIX.T)[:, :2] / camera[:, 2:3]


def make_hands(rng, poses, people=2):
    """Return TrueHands of ``people`` people (one or two hands each), 0.4-1.5 m from cameras."""
    hands = []
    for person in range(people):
        centre = rng.uniform(-0.2, 0.2, 3)
        for is_right in ((True, False) if rng.random() < 0.7 else (bool(rng.random() < 0.5),)):
            for _ in range(100):
                rotation = Rotation.random(random_state=rng)
                model = hand_skeleton(rng, is_right)
                wrist = centre + rng.uniform(-0.12, 0.12, 3)
                joints = rotation.apply(model) + wrist
                far = [np.linalg.norm(pose[:3, 3] - wrist) for pose in poses]
                apart = all(np.linalg.norm(h.joints[0] - wrist) > 0.1 for h in hands)
                if min(far) >= 0.4 and max(far) <= 1.5 and apart:
                    hands.append(TrueHand(is_right, person, joints, rotation, model))
                    break
    return hands


def view_hand(rng, pose, truth, noise_px, depth_error=None):
    """Return WiLoR's hand of ``truth`` seen from ``pose`` (see the module docstring) or None."""
    camera, pixels = _project(pose, truth.joints)
    if np.any(camera[:, 2] < 0.1) or np.any(pixels < 0) or np.any(
            pixels[:, 0] >= WIDTH) or np.any(pixels[:, 1] >= HEIGHT):
        return None
    confidence = rng.uniform(0.6, 1.0, 21)
    unsure = rng.random(21) < 0.1
    confidence[unsure] = rng.uniform(0.05, 0.3, unsure.sum())
    sigma = np.where(unsure, 8.0, noise_px)
    observed = pixels + rng.normal(0, 1, (21, 2)) * sigma[:, None]
    if depth_error is None:
        depth_error = rng.uniform(0.1, 0.4) * rng.choice([-1.0, 1.0])
    orientation = (Rotation.from_matrix(pose[:3, :3]).inv() * truth.rotation
                   * Rotation.from_rotvec(rng.normal(0, np.radians(6) / np.sqrt(3), 3)))
    model = truth.model + rng.normal(0, 0.005 / np.sqrt(3), (21, 3))
    cam_t = camera[0] * (1.0 + depth_error)
    keypoints = orientation.apply(model) + cam_t
    return HandResult(
        is_right=truth.is_right, score=float(rng.uniform(0.6, 0.95)),
        box=np.r_[observed.min(axis=0), observed.max(axis=0)].astype(np.float32),
        keypoints_3d=keypoints.astype(np.float32), keypoints_2d=observed.astype(np.float32),
        keypoints_2d_network=observed.astype(np.float32),
        global_orient=orientation.as_rotvec().astype(np.float32),
        hand_pose=np.zeros(45, np.float32), betas=rng.normal(0, 0.1, 10).astype(np.float32),
        cam_t=cam_t.astype(np.float32), focal_length=np.array([FOCAL, FOCAL], np.float32),
        principal_point=np.array([WIDTH / 2, HEIGHT / 2], np.float32),
        focal_from_camera_info=True, keypoint_confidence=confidence.astype(np.float32))


def wrong_side(rng, pose, truth, noise_px):
    """Return the hand with the wrong side: the mirrored hand's joints, side flipped."""
    mirrored = dataclasses.replace(
        truth, is_right=not truth.is_right,
        model=truth.model * np.array([1.0, -1.0, 1.0]),
        joints=truth.rotation.apply(truth.model * np.array([1.0, -1.0, 1.0]))
        + truth.joints[0])
    return view_hand(rng, pose, mirrored, noise_px)


def wrong_detection(rng, pose, truth, noise_px):
    """Return a false detection: a hand 40-150 px beside the true one in the image."""
    angle = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(40, 150) * np.array([np.cos(angle), np.sin(angle)])
    depth = (np.linalg.inv(pose) @ np.append(truth.joints[0], 1.0))[2]
    offset = pose[:3, :3] @ np.array([shift[0] * depth / FOCAL, shift[1] * depth / FOCAL, 0.0])
    moved = dataclasses.replace(truth, joints=truth.joints + offset)
    return view_hand(rng, pose, moved, noise_px, depth_error=rng.uniform(-0.4, 0.6))
