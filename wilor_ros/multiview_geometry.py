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
Camera poses and hands moved between frames (plain numpy).

A pose is a 4x4 homogeneous matrix ``T`` with ``p_common = T @ p_camera``: the camera's optical
frame (REP-103: x right, y down, z forward) expressed in the common frame, as
``tf2`` gives it for ``lookup_transform(common_frame, camera_frame)``.
"""

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros.skeleton import NUM_JOINTS, WRIST


def pose_matrix(rotation, translation):
    """Return the 4x4 pose of a (3, 3) rotation and a (3,) translation."""
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return pose


def pose_from_quaternion(translation, quaternion):
    """Return the 4x4 pose of a translation and a quaternion (x, y, z, w), as in TF messages."""
    return pose_matrix(Rotation.from_quat(np.asarray(quaternion, dtype=np.float64)).as_matrix(),
                       translation)


def projection_matrix(camera_matrix, pose):
    """Return the 3x4 matrix taking common-frame points to the pixels of a camera at ``pose``."""
    camera_from_common = np.linalg.inv(pose)
    return np.asarray(camera_matrix, dtype=np.float64) @ camera_from_common[:3]


def fundamental_matrix(camera_matrix_a, pose_a, camera_matrix_b, pose_b):
    """Return F with x_b^T F x_a = 0 for pixels x_a, x_b of one point in cameras a and b."""
    b_from_a = np.linalg.inv(pose_b) @ pose_a
    rotation, translation = b_from_a[:3, :3], b_from_a[:3, 3]
    skew = np.array([[0.0, -translation[2], translation[1]],
                     [translation[2], 0.0, -translation[0]],
                     [-translation[1], translation[0], 0.0]])
    essential = skew @ rotation
    return np.linalg.inv(camera_matrix_b).T @ essential @ np.linalg.inv(camera_matrix_a)


def epipolar_distances(fundamental, pixels_a, pixels_b):
    """Return the symmetric point-to-epipolar-line distances (pixels) of matched (J, 2) points."""
    a = np.concatenate([pixels_a, np.ones((len(pixels_a), 1))], axis=1)
    b = np.concatenate([pixels_b, np.ones((len(pixels_b), 1))], axis=1)
    lines_b = a @ fundamental.T  # epipolar lines of a's points in b
    lines_a = b @ fundamental    # and of b's points in a
    numerator = np.abs(np.sum(b * lines_b, axis=1))
    with np.errstate(divide='ignore', invalid='ignore'):
        to_b = numerator / np.linalg.norm(lines_b[:, :2], axis=1)
        to_a = numerator / np.linalg.norm(lines_a[:, :2], axis=1)
    return 0.5 * (to_a + to_b)


def transform_points(pose, points):
    """Return (N, 3) points moved by a 4x4 pose."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return points @ pose[:3, :3].T + pose[:3, 3]


def _to_model_frame(hand, points):
    """
    Return ``points`` (N, 3) of ``hand``, in its camera's frame, taken into the MANO model frame.

    MANO turns the hand about its root joint J0 (the wrist, at the rest pose of the shape):
    ``points = s * (R @ (X - J0) + J0) + cam_t`` for model-frame X, so X = R^T ((points -
    cam_t) / s - J0) + J0. The wrist is J0 itself (``keypoints_3d[0] = s * J0 + cam_t``), which
    gives J0 without the model.
    """
    rotation = Rotation.from_rotvec(np.asarray(hand.global_orient, np.float64)).as_matrix()
    scale = hand.depth_scale if hand.depth_scale > 0 else 1.0
    cam_t = np.asarray(hand.cam_t, np.float64).reshape(3)
    root = (np.asarray(hand.keypoints_3d, np.float64)[WRIST] - cam_t) / scale
    return ((np.asarray(points, np.float64) - cam_t) / scale - root) @ rotation + root


def model_joints(hand):
    """
    Return the hand's joints in its MANO model frame: (21, 3), before orientation and placement.

    Undoes ``keypoints_3d = depth_scale * (R(global_orient) @ (J - J0) + J0) + cam_t`` (MANO
    turns the hand about its root joint J0, the wrist) for a hand in its camera's frame, so a
    monocular depth error (in cam_t) is gone and what is left is the articulation and the shape
    (betas): MANO of the hand's pose and betas with an identity ``global_orient``.
    """
    return _to_model_frame(hand, hand.keypoints_3d)


def model_vertices(hand):
    """Return the hand's vertices in its MANO model frame (778, 3), or None; see model_joints."""
    if hand.vertices is None:
        return None
    return _to_model_frame(hand, hand.vertices)


def hand_in_frame(hand, pose, **changes):
    """
    Return a copy of ``hand`` moved into the common frame by ``pose`` (4x4, see the module).

    3D joints, root orientation, translation and mesh move; the image-space fields (box, 2D
    joints, focal length, principal point) belong to one camera's image and are zeroed, since
    the hand no longer lives in that camera's frame. ``changes`` replace further fields.
    """
    rotation = pose[:3, :3]
    orient = Rotation.from_matrix(rotation) * Rotation.from_rotvec(
        np.asarray(hand.global_orient, np.float64))
    # vertices = s * (R(global_orient) (MANO - J0) + J0) + cam_t (MANO turns about its root J0)
    # must still hold after the move with the moved orientation and the same scale: the root
    # (the wrist, s * J0 + cam_t) moves with the hand and s * J0 is not turned, so the new
    # cam_t is the moved wrist less s * J0.
    wrist = np.asarray(hand.keypoints_3d, np.float64)[WRIST]
    root_offset = wrist - np.asarray(hand.cam_t, np.float64).reshape(3)
    moved = {
        'box': np.zeros(4, np.float32),
        'keypoints_3d': transform_points(pose, hand.keypoints_3d).astype(np.float32),
        'keypoints_2d': np.zeros((NUM_JOINTS, 2), np.float32),
        'keypoints_2d_network': np.zeros((NUM_JOINTS, 2), np.float32),
        'global_orient': orient.as_rotvec().astype(np.float32),
        'cam_t': (transform_points(pose, wrist)[0] - root_offset).astype(np.float32),
        'focal_length': np.zeros(2, np.float32),
        'principal_point': np.zeros(2, np.float32),
        'vertices': (None if hand.vertices is None
                     else transform_points(pose, hand.vertices).astype(np.float32))}
    moved.update(changes)
    return dataclasses.replace(hand, **moved)
