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
Reference maths the package does not need, kept as the truth the tests compare it with.

* :func:`cam_crop_to_full`: the official WiLoR demo's crop camera -> full-image translation,
  bit for bit; the package computes the translation with
  :func:`wilor_ros.camera.cam_crop_to_camera` (any K), which the parity tests hold against this
  one. ``bench/bench_vs_official.py`` uses it too, to re-create the official demo's path.
* :func:`axis_angle_to_rotmat`: Rodrigues' formula, the inverse of
  :func:`wilor_ros.rotations.rotmat_to_axis_angle` for the round-trip and mirroring tests.
* :func:`mano_axis_angles`: the MANO rotation matrices of the reconstructor's raw outputs to
  the axis-angle vectors of a :class:`~wilor_ros.hand.HandResult` (left hands mirrored), in
  one torch call, for the parity test against the official run's SciPy conversion.
"""

import torch

from wilor_ros.rotations import mirror_axis_angle, rotmat_to_axis_angle


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


def axis_angle_to_rotmat(axis_angle):
    """Rodrigues' formula: axis-angle vectors (..., 3) in radians to matrices (..., 3, 3)."""
    angle = axis_angle.norm(dim=-1, keepdim=True)
    # The first-order series keeps tiny angles exact without dividing by zero.
    safe = torch.where(angle > 1e-8, angle, torch.ones_like(angle))
    axis = axis_angle / safe
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1)
    skew = skew.reshape(axis_angle.shape[:-1] + (3, 3))
    sin = torch.sin(angle)[..., None]
    cos = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    rotation = eye + sin * skew + (1 - cos) * (skew @ skew)
    small = (angle[..., 0] <= 1e-8)[..., None, None]
    x0, y0, z0 = axis_angle.unbind(-1)
    skew0 = torch.stack((zero, -z0, y0, z0, zero, -x0, -y0, x0, zero), dim=-1)
    skew0 = skew0.reshape(axis_angle.shape[:-1] + (3, 3))
    return torch.where(small, eye + skew0, rotation)


def mano_axis_angles(global_orient, hand_pose, is_right):
    """
    Convert MANO rotation matrices to axis-angle, mirrored ``(x, -y, -z)`` for left hands.

    ``global_orient`` (B, 1, 3, 3), ``hand_pose`` (B, 15, 3, 3) torch. Returns float64
    tensors (B, 3) and (B, 45) (joint-major) on the input device.
    """
    rotations = torch.cat((global_orient, hand_pose), dim=1).double()
    axis_angle = rotmat_to_axis_angle(rotations)
    left = ~torch.as_tensor(is_right, device=axis_angle.device).bool()
    axis_angle = torch.where(left[:, None, None], mirror_axis_angle(axis_angle), axis_angle)
    return axis_angle[:, 0], axis_angle[:, 1:].reshape(axis_angle.shape[0], -1)
