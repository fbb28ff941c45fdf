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
Points in space from several calibrated views: robust, confidence-weighted triangulation.

Each joint is triangulated on its own: every pair of views proposes a point
(``cv2.triangulatePoints``), the proposal that the most views agree with (reprojection within
``inlier_px``, weighted by the detector's confidences) wins, and the point is refined on its
inliers by Gauss-Newton on the confidence-weighted reprojection error. So one view with a
wrong detection is outvoted joint by joint whenever two others agree (RANSAC over views; with
at most a handful of cameras every pair is tried, no random sampling needed).

OpenCV triangulates two views only and has no weighted N-view refinement, and aniposelib is not
a dependency of this package (nor in its wheels' pins), hence the N-view part here. The
per-joint uncertainty is the linearised covariance of the refined point (the inverse of the
weighted Gauss-Newton information matrix) for the 2D noise estimated from the residuals, never
below ``min_sigma_px``: its square root of the trace, metres (a 3D RMS).
"""

import dataclasses
import itertools

import cv2
import numpy as np

# Detector confidences below this still count a little: a 0 would remove a view from the
# weighted refinement entirely, while RANSAC has already decided whether it is an inlier.
MIN_WEIGHT = 0.05


@dataclasses.dataclass
class Triangulation:
    """
    Triangulated points and their support.

    ``points``: (J, 3) in the frame of the projection matrices, NaN where fewer than two views
    agreed; ``inliers``: (V, J) bool; ``residuals``: (V, J) reprojection error, pixels;
    ``uncertainty``: (J,) metres (NaN with the points); ``covariance``: (J, 3, 3) m^2.
    """

    points: np.ndarray
    inliers: np.ndarray
    residuals: np.ndarray
    uncertainty: np.ndarray
    covariance: np.ndarray


def project(projections, points):
    """Return (V, J, 2) pixels of (J, 3) ``points`` through (V, 3, 4) ``projections``."""
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    image = np.einsum('vij,pj->vpi', projections, homogeneous)
    with np.errstate(divide='ignore', invalid='ignore'):
        return image[..., :2] / image[..., 2:3]


def depths(projections, points):
    """Return (V, J) third coordinate of the projections (> 0: in front of the camera)."""
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    return np.einsum('vj,pj->vp', projections[:, 2, :], homogeneous)


def reprojection_errors(projections, pixels, points):
    """Return (V, J) pixel distances; inf where a point lies behind a camera or is NaN."""
    errors = np.linalg.norm(project(projections, points) - pixels, axis=-1)
    errors[~(depths(projections, points) > 0)] = np.inf
    errors[~np.isfinite(errors)] = np.inf
    return errors


def _linearise(projections, pixels, weights, points):
    """
    Return (information (J, 3, 3), gradient (J, 3)) of the weighted reprojection errors.

    The weighted normal matrices and right-hand sides of Gauss-Newton at ``points``;
    ``weights``: (V, J), 0 for views that are not a point's inliers.
    """
    h = np.einsum('vij,pj->vpi', projections, np.c_[points, np.ones(len(points))])
    depth = h[..., 2]
    usable = weights * (depth > 0)
    depth = np.where(depth > 0, depth, 1.0)
    uv = h[..., :2] / depth[..., None]
    # d(u, v)/dX = (P_rows01 * w - p01 * P_row2) / w^2, per view and point.
    jac = ((projections[:, None, :2, :3] * depth[..., None, None]
            - h[..., :2, None] * projections[:, None, 2:3, :3]) / depth[..., None, None] ** 2)
    jac_w = jac * usable[..., None, None]
    residual = (pixels - uv) * usable[..., None]
    return (np.einsum('vpik,vpil->pkl', jac_w, jac_w),
            np.einsum('vpik,vpi->pk', jac_w, residual))


def _refine(projections, pixels, weights, points, iterations):
    """
    Gauss-Newton on the weighted reprojection errors of all points at once.

    ``weights``: (V, J), 0 for views that are not a point's inliers. Return the points (J, 3).
    """
    for _ in range(iterations):
        information, gradient = _linearise(projections, pixels, weights, points)
        # A touch of damping keeps a point seen along (nearly) one ray solvable.
        damping = 1e-12 * np.trace(information, axis1=1, axis2=2)[:, None, None] * np.eye(3)
        try:
            step = np.linalg.solve(information + damping + 1e-30 * np.eye(3),
                                   gradient[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        step[~np.isfinite(step).all(axis=1)] = 0.0
        points = points + step
        if np.max(np.abs(step), initial=0.0) < 1e-7:
            break
    return points


def triangulate(projections, pixels, confidences, inlier_px=15.0, min_sigma_px=3.0,
                iterations=5):
    """
    Triangulate J points seen in V views; see the module docstring.

    ``projections``: (V, 3, 4) K [R | t] mapping the common frame to each view's pixels;
    ``pixels``: (V, J, 2); ``confidences``: (V, J) in [0, 1] (0 or NaN pixels: not seen).
    """
    projections = np.asarray(projections, dtype=np.float64)
    pixels = np.asarray(pixels, dtype=np.float64)
    confidences = np.nan_to_num(np.asarray(confidences, dtype=np.float64))
    views, joints = pixels.shape[:2]
    seen = np.isfinite(pixels).all(axis=-1) & (confidences > 0)
    weights = np.where(seen, np.maximum(confidences, MIN_WEIGHT), 0.0)
    safe_pixels = np.where(seen[..., None], pixels, 0.0)
    best_points = np.full((joints, 3), np.nan)
    best_score = np.full(joints, -np.inf)
    for first, second in itertools.combinations(range(views), 2):
        both = seen[first] & seen[second]
        if not both.any():
            continue
        homogeneous = cv2.triangulatePoints(projections[first], projections[second],
                                            safe_pixels[first].T.copy(),
                                            safe_pixels[second].T.copy())
        with np.errstate(divide='ignore', invalid='ignore'):
            candidates = (homogeneous[:3] / homogeneous[3]).T
        errors = reprojection_errors(projections, safe_pixels, candidates)
        agree = (errors < inlier_px) & seen
        # Most (confidence-weighted) agreeing views first; among equals the smaller error.
        score = (np.where(agree, weights, 0.0).sum(axis=0)
                 - 1e-3 * np.where(agree, errors, 0.0).sum(axis=0) / inlier_px)
        score[~both | (agree.sum(axis=0) < 2)] = -np.inf
        better = score > best_score
        best_points[better] = candidates[better]
        best_score[better] = score[better]
    candidates = np.isfinite(best_score)
    points = np.where(candidates[:, None], best_points, 0.0)
    for _ in range(2):  # Refine on the inliers, then again on the refined point's inliers.
        members = seen & (reprojection_errors(projections, safe_pixels, points) < inlier_px)
        candidates &= members.sum(axis=0) >= 2
        points = _refine(projections, safe_pixels, np.where(members & candidates, weights, 0.0),
                         points, iterations)
    errors = reprojection_errors(projections, safe_pixels, points)
    members = seen & (errors < inlier_px) & candidates
    valid = (members.sum(axis=0) >= 2) & np.isfinite(points).all(axis=1)
    # The covariance is of the returned point and inliers: the normal matrix at the final
    # point on the final inliers (the refinement's last one is at the point before its last
    # step, on the inliers before it).
    information, _ = _linearise(projections, safe_pixels, np.where(members, weights, 0.0),
                                np.where(np.isfinite(points), points, 0.0))
    # The 2D noise from the weighted residuals (2 per view, 3 unknowns), with a floor: two
    # views leave a single degree of freedom, too few to trust alone.
    member_weights = np.where(members, weights, 0.0)
    dof = np.maximum(2 * members.sum(axis=0) - 3, 1)
    sigma = np.maximum(min_sigma_px, np.sqrt(
        np.sum((member_weights * np.where(members, errors, 0.0)) ** 2, axis=0) / dof))
    determinant = np.linalg.det(information)
    valid &= np.abs(determinant) > 0
    covariances = np.full((joints, 3, 3), np.nan)
    covariances[valid] = np.linalg.inv(information[valid]) * sigma[valid, None, None] ** 2
    uncertainty = np.full(joints, np.nan)
    uncertainty[valid] = np.sqrt(np.maximum(np.trace(covariances[valid], axis1=1, axis2=2),
                                            0.0))
    points = np.where(valid[:, None], points, np.nan)
    inliers = members & valid
    residuals = reprojection_errors(projections, safe_pixels, np.nan_to_num(points))
    residuals[:, ~np.isfinite(points).all(axis=1)] = np.inf
    return Triangulation(points, inliers, residuals, uncertainty, covariances)
