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
One hand in the common frame from a group of views: triangulated joints, then the MANO hand.

The 21 joints are triangulated from the views' 2D joints
(:mod:`~wilor_ros.multiview_triangulation`); a view whose joints mostly disagree with the
others is dropped from the group. Then the MANO
hand is placed on the joints: its articulation and shape are the views' (betas: their
confidence-weighted mean; per-joint pose: the weighted mean rotation; the joints and mesh in
the model frame: the weighted mean of the views' own, which are MANO of those parameters, with
the monocular placement error taken out), its orientation and position the rigid fit
(``Rotation.align_vectors``, weighted by each joint's inverse variance) of those model joints
to the triangulated ones. ``keypoints_3d`` are the triangulated joints; a joint fewer than two
views agree on takes the placed MANO joint, with the fit's residual as its uncertainty.
"""

import dataclasses
from typing import List

import numpy as np
from scipy.spatial.transform import Rotation

from wilor_ros.multiview_association import ViewHand
from wilor_ros.multiview_geometry import model_joints, model_vertices, transform_points
from wilor_ros.multiview_triangulation import triangulate
from wilor_ros.skeleton import WRIST

# A view keeps its place in a group when at least this share of its seen joints agree.
MIN_VIEW_INLIERS = 0.5
# Uncertainty floor (m) of a joint only the MANO fit places.
FIT_FLOOR = 0.01
# Per-axis standard deviation floor (m) of a placed MANO joint (the views' articulation error).
MODEL_FLOOR = 0.002
# Monocular depth is about this share of the distance off (WiLoR, README: 10-40 %).
MONOCULAR_DEPTH_ERROR = 0.25
# RGB-D hands: the fit's residual plus this (m).
DEPTH_FLOOR = 0.01


@dataclasses.dataclass
class FusedHand:
    """A hand in the common frame with the views that made it (``cameras``) and the rejected."""

    hand: object  # HandResult in the common frame
    members: List[ViewHand]
    rejected: List[ViewHand]


def _weights(members):
    return np.array([max(float(m.hand.score), 1e-3) * float(np.mean(m.confidence))
                     for m in members])


def single_view_uncertainty(view_hand):
    """Return (21,) metres: a monocular hand's depth error, or an RGB-D hand's fit residual."""
    hand = view_hand.hand
    depth = np.asarray(hand.keypoints_3d, np.float64)[:, 2]
    if hand.translation_source == 'depth':
        return np.full(21, DEPTH_FLOOR + float(hand.depth_residual))
    return MONOCULAR_DEPTH_ERROR * np.abs(depth)


def single_view_hand(view_hand, hand_in_frame):
    """Return the FusedHand of a hand one camera sees: its own hand moved into the frame."""
    hand = hand_in_frame(view_hand.hand, view_hand.pose, cameras=(view_hand.camera,),
                         keypoint_uncertainty=single_view_uncertainty(view_hand).astype(
                             np.float32))
    return FusedHand(hand, [view_hand], [])


def fuse_group(group: List[ViewHand], hand_in_frame, inlier_px=15.0):
    """
    Return the FusedHand of a group of two or more views, or None when fewer than two agree.

    ``hand_in_frame``: :func:`wilor_ros.multiview_geometry.hand_in_frame` (passed in to keep the
    HandResult fields in one place).
    """
    members, rejected = list(group), []
    while len(members) >= 2:
        result = triangulate(np.stack([m.projection for m in members]),
                             np.stack([m.pixels for m in members]),
                             np.stack([m.confidence for m in members]), inlier_px=inlier_px)
        seen = np.stack([m.confidence for m in members]) > 0
        shares = result.inliers.sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        worst = int(np.argmin(shares))
        if shares[worst] >= MIN_VIEW_INLIERS:
            break
        rejected.append(members.pop(worst))
    if len(members) < 2:
        return None
    return FusedHand(_place(members, result, hand_in_frame), members, rejected)


def _mean_rotations(rotvecs, weights):
    """
    Return the weighted mean rotations (K, 3) of (V, K, 3) axis-angles over the V views.

    The mean of ``Rotation.mean`` (the principal eigenvector of the weighted quaternion outer
    products), done for all K joints in one eigen decomposition.
    """
    views, count = rotvecs.shape[:2]
    quaternions = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_quat().reshape(views, count, 4)
    outer = np.einsum('v,vki,vkj->kij', weights, quaternions, quaternions)
    _, vectors = np.linalg.eigh(outer)
    return Rotation.from_quat(vectors[..., -1]).as_rotvec()


def _combine(result, placed, valid, members):
    """
    Return (keypoints, uncertainty): each triangulated joint combined with the placed MANO joint.

    Both are estimates of one joint: the triangulated one is precise across the viewing rays
    and poor along them when the baseline is short, the placed one (the rigid fit of the
    views' articulated hand to all 21 joints) is the same in every direction. Their
    inverse-covariance-weighted mean keeps the best of each. The placed joints' variance is
    what the fit residual leaves after the triangulation's own (never below 2 mm per axis).
    """
    if not valid.any():
        return placed, single_view_uncertainty(members[0])
    residual = np.sum((placed[valid] - result.points[valid]) ** 2, axis=1)
    triangulated_variance = np.trace(result.covariance[valid], axis1=1, axis2=2)
    model_variance = max(float(np.mean(residual) - np.mean(triangulated_variance)) / 3.0,
                         MODEL_FLOOR ** 2)
    keypoints = placed.copy()
    uncertainty = np.full(len(placed), np.sqrt(3 * model_variance + FIT_FLOOR ** 2))
    for joint in np.flatnonzero(valid):
        try:
            information = np.linalg.inv(result.covariance[joint])
        except np.linalg.LinAlgError:
            continue
        covariance = np.linalg.inv(information + np.eye(3) / model_variance)
        keypoints[joint] = covariance @ (information @ result.points[joint]
                                         + placed[joint] / model_variance)
        uncertainty[joint] = np.sqrt(np.trace(covariance))
    return keypoints, uncertainty


def _place(members, result, hand_in_frame):
    weights = _weights(members)
    weights = weights / weights.sum()
    joints0 = np.einsum('v,vjk->jk', weights, np.stack([model_joints(m.hand) for m in members]))
    valid = np.isfinite(result.points).all(axis=1)
    if valid.sum() >= 3:
        target = result.points[valid]
        source = joints0[valid]
        joint_weights = 1.0 / np.maximum(result.uncertainty[valid], 1e-3) ** 2
        target_centre = np.average(target, axis=0, weights=joint_weights)
        source_centre = np.average(source, axis=0, weights=joint_weights)
        rotation, _ = Rotation.align_vectors(target - target_centre, source - source_centre,
                                             weights=joint_weights)
        translation = target_centre - rotation.apply(source_centre)
    else:  # Too few joints for an orientation: the best view's, moved to the agreed joints.
        best = members[int(np.argmax(weights))]
        rotation = Rotation.from_matrix(best.pose[:3, :3]) * Rotation.from_rotvec(
            np.asarray(best.hand.global_orient, np.float64))
        # MANO turns the hand about its wrist: the model hand turned so, with its wrist on the
        # best view's wrist.
        wrist = transform_points(best.pose, best.hand.keypoints_3d[WRIST])[0]
        translation = wrist - rotation.apply(joints0[WRIST])
        placed = rotation.apply(joints0) + translation
        if valid.any():
            translation = translation + np.mean(result.points[valid] - placed[valid], axis=0)
    placed = rotation.apply(joints0) + translation
    keypoints, uncertainty = _combine(result, placed, valid, members)
    meshes = [(w, model_vertices(m.hand)) for w, m in zip(weights, members)]
    meshes = [(w, v) for w, v in meshes if v is not None]
    vertices = None
    if meshes:
        total = sum(w for w, _ in meshes)
        vertices = rotation.apply(sum(w * v for w, v in meshes) / total) + translation
    hand_pose = _mean_rotations(np.stack([np.asarray(m.hand.hand_pose, np.float64)
                                          .reshape(15, 3) for m in members]), weights)
    betas = np.einsum('v,vk->k', weights,
                      np.stack([np.asarray(m.hand.betas, np.float64) for m in members]))
    confidence = np.max(np.stack([m.confidence for m in members]), axis=0)
    best = members[int(np.argmax(weights))]
    # MANO turns the hand about its root joint J0 (the model-frame wrist), not the origin:
    # MANO(global_orient) + cam_t = rotation (X - J0) + J0 + cam_t is the placed hand.
    cam_t = translation + rotation.apply(joints0[WRIST]) - joints0[WRIST]
    identity = np.eye(4)
    return hand_in_frame(
        best.hand, identity,
        score=float(max(m.hand.score for m in members)),
        keypoints_3d=keypoints.astype(np.float32),
        global_orient=rotation.as_rotvec().astype(np.float32),
        hand_pose=hand_pose.astype(np.float32), betas=betas.astype(np.float32),
        cam_t=cam_t.astype(np.float32),
        vertices=None if vertices is None else vertices.astype(np.float32),
        keypoint_confidence=confidence.astype(np.float32), depth_scale=1.0,
        translation_source='camera_info', depth_inliers=0, depth_inlier_ratio=0.0,
        depth_residual=0.0, cameras=tuple(m.camera for m in members),
        keypoint_uncertainty=uncertainty.astype(np.float32))
