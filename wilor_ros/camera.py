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
Camera model: from WiLoR's crop camera to the full image, with the heuristic or a real K.

WiLoR predicts, per crop, a weak-perspective camera ``(s, tx, ty)`` of a virtual pinhole
camera with focal length 5000 px for the 256 px crop, looking at the crop centre. The official
demo turns it into a translation of the MANO root in a full-image camera with the focal length
heuristic ``F = 5000 / 256 * max(W, H)`` and the principal point at the image centre
(:func:`cam_crop_to_full`). With a calibrated camera (``sensor_msgs/CameraInfo`` K) the same
construction gives a metric translation for that camera (:func:`cam_crop_to_camera`).

Conventions: OpenCV / REP-103 optical frame (x right, y down, z forward), pixels with the
origin at the centre of the top-left pixel, u = fx X / Z + cx, v = fy Y / Z + cy.
"""

import dataclasses

import numpy as np
import torch

# Official cfg.EXTRA.FOCAL_LENGTH and cfg.MODEL.IMAGE_SIZE (crop side).
CROP_FOCAL_LENGTH = 5000.0
CROP_SIZE = 256


@dataclasses.dataclass(frozen=True)
class CameraIntrinsics:
    """
    Pinhole intrinsics in pixels used to place the hands.

    ``from_camera_info`` is True for a real camera matrix and False for WiLoR's heuristic.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    from_camera_info: bool

    @property
    def principal_point(self):
        """(cx, cy) as a float32 array."""
        return np.array([self.cx, self.cy], dtype=np.float32)


def heuristic_focal_length(width, height, crop_focal_length=CROP_FOCAL_LENGTH,
                           crop_size=CROP_SIZE):
    """
    Focal length of the WiLoR demo, ``5000 / 256 * max(W, H)`` pixels (float32, as the demo).

    The crop camera's 5000 px for 256 px is scaled as if the whole image were one crop, i.e.
    a field of view of about 2.9 degrees: hands come out far away (10-20 m) but project right.
    """
    return float(np.float32(crop_focal_length / crop_size) * np.float32(max(width, height)))


def heuristic_intrinsics(width, height, crop_focal_length=CROP_FOCAL_LENGTH,
                         crop_size=CROP_SIZE):
    """Official demo camera: F = 5000/256 * max(W, H), principal point (W/2, H/2)."""
    focal = heuristic_focal_length(width, height, crop_focal_length, crop_size)
    return CameraIntrinsics(fx=focal, fy=focal, cx=float(width) / 2.0, cy=float(height) / 2.0,
                            from_camera_info=False)


def intrinsics_from_matrix(camera_matrix):
    """
    Intrinsics from a 3x3 camera matrix K (or its 9 values row-major, as CameraInfo.k).

    The skew term K[0, 1] is ignored (zero for every ROS camera driver); raises ValueError
    when the focal lengths are not positive and finite.
    """
    if isinstance(camera_matrix, CameraIntrinsics):
        return camera_matrix
    k = np.asarray(camera_matrix, dtype=np.float64)
    if k.size != 9:
        raise ValueError(f'camera matrix must be 3x3 (or 9 values), got shape {k.shape}')
    k = k.reshape(3, 3)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise ValueError(f'camera matrix needs positive finite fx, fy and finite cx, cy; got '
                         f'fx={fx}, fy={fy}, cx={cx}, cy={cy}')
    return CameraIntrinsics(fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy),
                            from_camera_info=True)


def cam_crop_to_full(cam_bbox, box_center, box_size, img_size, focal_length=5000.0):
    """
    Official WiLoR ``cam_crop_to_full`` (torch, float32): crop camera -> full-image translation.

    ``cam_bbox`` (B, 3) [s, tx, ty] (tx already sign-flipped for left hands),
    ``box_center`` (B, 2), ``box_size`` (B,), ``img_size`` (B, 2) (W, H); principal point at
    the image centre. Returns (B, 3) (tx, ty, tz) metres. Kept bit-for-bit with the official
    arithmetic (including the ``+ 1e-9``) for the parity tests.
    """
    img_w, img_h = img_size[:, 0], img_size[:, 1]
    cx, cy, b = box_center[:, 0], box_center[:, 1], box_size
    w_2, h_2 = img_w / 2., img_h / 2.
    bs = b * cam_bbox[:, 0] + 1e-9
    tz = 2 * focal_length / bs
    tx = (2 * (cx - w_2) / bs) + cam_bbox[:, 1]
    ty = (2 * (cy - h_2) / bs) + cam_bbox[:, 2]
    return torch.stack([tx, ty, tz], dim=-1)


def cam_crop_to_camera(cam_bbox, box_center, box_size, intrinsics):
    """
    Crop camera [s, tx, ty] -> MANO root translation for a camera with K (fx, fy, cx, cy).

    Derivation. The crop is a b x b pixel square of the image around the box centre
    (cxb, cyb), sampled isotropically (square pixels in image units). WiLoR's crop camera is
    nearly orthographic (tz = 2 * 5000 / (256 s), metres-to-crop scale s / 2), so the network
    places a MANO point X (MANO frame, mirrored for left hands) at

        u = cxb + (b s / 2) (X + tx),    v = cyb + (b s / 2) (Y + ty)    (image pixels).

    A camera with K sees the translated point at u = fx (X + Tx) / (Z + Tz) + cx and
    v = fy (Y + Ty) / (Z + Tz) + cy. Asking both to agree to first order in X / Tz (the
    weak-perspective limit, exact for points at the MANO origin or with Z = 0) gives

        scale:  fx / Tz = b s / 2                  ->  Tz = 2 fx / (b s)
        u:      fx Tx / Tz + cx = cxb + b s tx / 2 ->  Tx = tx + 2 (cxb - cx) / (b s)
        v:      fy Ty / Tz + cy = cyb + b s ty / 2 ->  Ty = (fx / fy) (ty + 2 (cyb - cy) / (b s))

    The depth is set from fx (the crop scale is matched horizontally). With non-square pixels
    (fx != fy) the crop itself saw the image stretched, and the whole y translation is scaled
    by fx / fy so that the root projects through fy onto the same pixel as the network put it;
    with fx = fy the factor is 1 and this is the official ``cam_crop_to_full`` with F = fx and
    (cx, cy) instead of the image centre (and no ``+ 1e-9``). The translation is metric in so
    far as K is real, because a MANO hand has a real size: doubling fx doubles Tz.

    Arguments may be numpy or torch; returns (B, 3) in float64 (numpy) or the input dtype.
    """
    bs = box_size * cam_bbox[:, 0]
    fx, fy = intrinsics.fx, intrinsics.fy
    tz = 2.0 * fx / bs
    tx = cam_bbox[:, 1] + 2.0 * (box_center[:, 0] - intrinsics.cx) / bs
    ty = (fx / fy) * (cam_bbox[:, 2] + 2.0 * (box_center[:, 1] - intrinsics.cy) / bs)
    if isinstance(tz, torch.Tensor):
        return torch.stack([tx, ty, tz], dim=-1)
    return np.stack([tx, ty, tz], axis=-1)


def project_points(points, intrinsics):
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    if isinstance(points, torch.Tensor):
        focal = points.new_tensor([intrinsics.fx, intrinsics.fy])
        centre = points.new_tensor([intrinsics.cx, intrinsics.cy])
    else:
        focal = np.array([intrinsics.fx, intrinsics.fy])
        centre = np.array([intrinsics.cx, intrinsics.cy])
    return focal * points[..., :2] / points[..., 2:3] + centre
