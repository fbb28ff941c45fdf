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
Which hands in different views are the same physical hand.

Two hands of two views may be one hand when they have the same side, their 2D joints agree
with the epipolar geometry of the two cameras (median point-to-epipolar-line distance over the
confidently detected joints within ``epipolar_px``), and the palm triangulated from the two
lies in front of both cameras near where each view's monocular hand put it (within
``depth_ratio`` of each camera's distance plus 5 cm: WiLoR's monocular depth is 10-40 % off,
its direction is not) with the size of the views' own hands (within ``size_ratio``). Hands
are then grouped greedily, most consistent pairs first, with complete linkage: a group holds
at most one hand per view and every pair in it must pass the tests, so one wrong detection
cannot chain two people's hands together.
"""

import dataclasses
import itertools
from typing import List, Optional

import cv2
import numpy as np

from wilor_ros.hand import HandResult
from wilor_ros.multiview_geometry import epipolar_distances, fundamental_matrix, transform_points
from wilor_ros.skeleton import finger_joints, FINGERS, NUM_JOINTS, WRIST

# The palm: wrist and the four finger MCPs; the rigid part of the hand, detected most reliably.
PALM = (WRIST,) + tuple(finger_joints(finger)[0] for finger in FINGERS if finger != 'thumb')
# Joints below this detector confidence are left out of the epipolar median.
CONFIDENT = 0.3
# A triangulated palm closer than this (m) to a camera is behind or inside it: no match.
MIN_DEPTH = 0.05


@dataclasses.dataclass
class ViewHand:
    """One hand of one view, with what association and triangulation need of its camera."""

    camera: str
    view: int
    index: int
    hand: HandResult
    pose: np.ndarray
    camera_matrix: np.ndarray
    projection: np.ndarray

    @property
    def pixels(self):
        """(21, 2) float64 2D joints."""
        return np.asarray(self.hand.keypoints_2d, dtype=np.float64).reshape(NUM_JOINTS, 2)

    @property
    def confidence(self):
        """(21,) detector confidences (ones when the detector gave none)."""
        conf = self.hand.keypoint_confidence
        return (np.ones(NUM_JOINTS) if conf is None
                else np.asarray(conf, dtype=np.float64).reshape(NUM_JOINTS))

    @property
    def world_joints(self):
        """(21, 3) the view's own (monocular or RGB-D) 3D joints in the common frame."""
        return transform_points(self.pose, self.hand.keypoints_3d)


@dataclasses.dataclass(frozen=True)
class AssociationConfig:
    """Thresholds of the association (see the module docstring)."""

    epipolar_px: float = 15.0
    depth_ratio: float = 0.5
    # Palm size triangulated from the pair vs the views' own: within this factor either way.
    size_ratio: float = 1.35
    # Pixels of cost per unit of |log(size ratio)|: among pairs of equal epipolar agreement,
    # the one giving the right-sized hand wins.
    size_weight: float = 30.0


def pair_cost(a: ViewHand, b: ViewHand, config: AssociationConfig) -> Optional[float]:
    """Return the median epipolar distance (px) of two hands when they may be one, else None."""
    if a.view == b.view or a.hand.is_right != b.hand.is_right:
        return None
    fundamental = fundamental_matrix(a.camera_matrix, a.pose, b.camera_matrix, b.pose)
    distances = epipolar_distances(fundamental, a.pixels, b.pixels)
    confident = (a.confidence >= CONFIDENT) & (b.confidence >= CONFIDENT) & np.isfinite(
        distances)
    if confident.sum() < 5:
        confident = np.isfinite(distances)
    if not confident.any():
        return None
    cost = float(np.median(distances[confident]))
    if cost > config.epipolar_px:
        return None
    palm = list(PALM)
    homogeneous = cv2.triangulatePoints(a.projection, b.projection,
                                        a.pixels[palm].T.copy(), b.pixels[palm].T.copy())
    with np.errstate(divide='ignore', invalid='ignore'):
        palm_points = (homogeneous[:3] / homogeneous[3]).T
    centre = np.mean(palm_points, axis=0)
    if not np.all(np.isfinite(centre)):
        return None
    # The palm triangulated from a wrong pair has the wrong size: a 2D offset along the
    # epipolar line moves the point in depth and scales the palm with it, while each view's
    # own hand has the metric size of its MANO shape.
    size = np.mean(np.linalg.norm(palm_points[1:] - palm_points[0], axis=1))
    own = np.mean([np.mean(np.linalg.norm(v.hand.keypoints_3d[palm[1:]]
                                          - v.hand.keypoints_3d[palm[0]], axis=1))
                   for v in (a, b)])
    ratio = abs(float(np.log(size / own))) if own > 0 and size > 0 else np.inf
    if ratio > np.log(config.size_ratio):
        return None
    for view_hand in (a, b):
        in_camera = np.linalg.inv(view_hand.pose) @ np.append(centre, 1.0)
        if in_camera[2] < MIN_DEPTH:
            return None
        monocular = np.mean(view_hand.world_joints[palm], axis=0)
        # Relative to the larger of the two distances: a monocular hand 40 % too near is
        # 0.4 of the true distance off but only 0.6 of it away from the camera.
        distance = max(np.linalg.norm(view_hand.pose[:3, 3] - monocular),
                       np.linalg.norm(view_hand.pose[:3, 3] - centre))
        if np.linalg.norm(centre - monocular) > config.depth_ratio * distance + 0.05:
            return None
    return cost + config.size_weight * ratio


def associate(hands: List[ViewHand], config: AssociationConfig = AssociationConfig()):
    """Return groups (lists of ViewHand, one per view at most) of the same physical hand."""
    costs = {}
    for i, j in itertools.combinations(range(len(hands)), 2):
        cost = pair_cost(hands[i], hands[j], config)
        if cost is not None:
            costs[(i, j)] = cost
    group_of = list(range(len(hands)))
    members = {i: [i] for i in range(len(hands))}
    for (i, j), _ in sorted(costs.items(), key=lambda item: item[1]):
        gi, gj = group_of[i], group_of[j]
        if gi == gj:
            continue
        views_i = {hands[k].view for k in members[gi]}
        if views_i & {hands[k].view for k in members[gj]}:
            continue
        if not all((min(k, m), max(k, m)) in costs for k in members[gi] for m in members[gj]):
            continue
        for k in members[gj]:
            group_of[k] = gi
        members[gi].extend(members.pop(gj))
    return [[hands[k] for k in sorted(group, key=lambda k: hands[k].view)]
            for group in members.values()]
