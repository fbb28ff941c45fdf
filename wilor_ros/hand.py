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

"""The per-hand result of the WiLoR pipeline (plain numpy, no torch, no ROS)."""

import dataclasses
from typing import Optional, Tuple

import numpy as np


@dataclasses.dataclass
class HandResult:
    """
    One reconstructed hand in the camera optical frame, metres, radians.

    Camera optical frame as REP-103: x right, y down, z forward.

    Fields:
        is_right: anatomical side (detector class 1 = right, 0 = left).
        score: detector confidence.
        box: (4,) float32 x_min, y_min, x_max, y_max, pixels, unrounded.
        keypoints_3d: (21, 3) float32, OpenPose hand order, camera frame, metres.
        keypoints_2d: (21, 2) float32 pixels: keypoints_3d projected through the camera used.
        keypoints_2d_network: (21, 2) float32 pixels: the network's own crop 2D mapped to the
            image (perspective of WiLoR's virtual crop camera, not of the camera used; see
            :mod:`wilor_ros.postprocess`).
        global_orient: (3,) float32 axis-angle (left hands mirrored: (x, -y, -z)).
        hand_pose: (45,) float32 15 x axis-angle, joint-major (left hands mirrored).
        betas: (10,) float32 MANO shape.
        cam_t: (3,) float32 MANO root translation, camera frame, metres.
        focal_length: (2,) float32 (fx, fy) pixels actually used for cam_t and keypoints_2d.
        principal_point: (2,) float32 (cx, cy) pixels used.
        focal_from_camera_info: True: from a real camera matrix; False: WiLoR heuristic
            5000/256 * max(W, H).
        vertices: (778, 3) float32 camera frame metres, or None when not requested.
        track_id: filled by the tracker.
        keypoint_confidence: (21,) float32 the detector's per-keypoint visibility estimate
            (0..1, OpenPose order), or None when the detector did not run (given boxes).
        depth_scale: s in vertices = s * MANO(theta, beta) + cam_t: 1.0 unless the RGB-D
            fit scaled the hand about the camera centre (:mod:`wilor_ros.depth_fusion`).
        translation_source: 'heuristic' (WiLoR focal heuristic), 'camera_info' (real K,
            monocular depth) or 'depth' (real K, scaled onto the aligned depth image).
        depth_inliers: depth samples that agreed with the fit (0 without depth).
        depth_inlier_ratio: inliers / valid depth samples at visible vertices (0 without).
        depth_residual: RMS depth difference of the inliers, metres (0 without).
        cameras: the cameras whose views made this hand: empty for a camera's own hands; on
            a fused hand (:mod:`wilor_ros.multiview`) one name for a hand only one camera saw
            (its monocular or RGB-D hand moved into the common frame), two or more for a
            triangulated hand.
        keypoint_uncertainty: (21,) float32 metres, per-joint 3D RMS uncertainty of a fused
            hand; zeros (not estimated) for a camera's own hands.
    """

    is_right: bool
    score: float
    box: np.ndarray
    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_2d_network: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    focal_length: np.ndarray
    principal_point: np.ndarray
    focal_from_camera_info: bool
    vertices: Optional[np.ndarray] = None
    track_id: str = ''
    keypoint_confidence: Optional[np.ndarray] = None
    depth_scale: float = 1.0
    translation_source: str = ''
    depth_inliers: int = 0
    depth_inlier_ratio: float = 0.0
    depth_residual: float = 0.0
    cameras: Tuple[str, ...] = ()
    keypoint_uncertainty: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(21, np.float32))

    def __post_init__(self):
        """Derive the translation source from the camera used when none was given."""
        if not self.translation_source:
            self.translation_source = ('camera_info' if self.focal_from_camera_info
                                       else 'heuristic')

    @property
    def side(self):
        """'right' or 'left'."""
        return 'right' if self.is_right else 'left'

    def to_dict(self):
        """
        Return the JSON-ready dict of this hand: the fields of ``wilor_msgs/Hand``.

        Same names and flat shapes as the message (``side``, ``id``, ``bbox``, ``keypoints_3d``
        as {x, y, z} objects, ``keypoints_2d`` 42 floats, ...) plus ``keypoints_2d_network``;
        :mod:`wilor_ros.hand_schema` is the one place that defines it.
        """
        from wilor_ros.hand_schema import hand_record

        return hand_record(self)
