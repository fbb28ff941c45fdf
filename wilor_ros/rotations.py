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

"""Rotation representations used by WiLoR and MANO (torch, batched over leading dimensions)."""

import torch
import torch.nn.functional as F


def rot6d_to_rotmat(x):
    """
    Decode WiLoR's 6-D rotations (..., 6) into rotation matrices (..., 3, 3).

    The official decoder reads the six numbers as two 3-vectors a1 = x[0:3], a2 = x[3:6],
    orthonormalises them by Gram-Schmidt and stacks b1, b2, b1 x b2 as matrix *columns*. The
    arithmetic order is kept as in the official code because the mean pose sits near a
    degenerate a2 ~ -a1 (see the parity fixtures' README).
    """
    a1 = x[..., 0:3]
    a2 = x[..., 3:6]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def rotmat_to_axis_angle(rotation):
    """
    Rotation matrices (..., 3, 3) to axis-angle vectors (..., 3), accurate up to pi.

    Goes through unit quaternions (Shepperd's branch choice), which stays well conditioned near
    0 and near pi where the trace/antisymmetric-part formula loses precision.
    """
    m = rotation
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    candidates = torch.stack((
        torch.stack((1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                     m[..., 1, 0] - m[..., 0, 1]), dim=-1),
        torch.stack((m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22,
                     m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]), dim=-1),
        torch.stack((m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                     1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]), dim=-1),
        torch.stack((m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                     m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22), dim=-1),
    ), dim=-2)
    pivots = torch.stack((trace, m00, m11, m22), dim=-1)
    best = pivots.argmax(dim=-1)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4)))
    quat = F.normalize(quat[..., 0, :], dim=-1)
    # q and -q are the same rotation: pick w >= 0 so the angle lies in [0, pi].
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    w, xyz = quat[..., 0], quat[..., 1:]
    sin_half = xyz.norm(dim=-1)
    angle = 2 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-12),
                        2 / w.clamp_min(1e-12))
    return xyz * scale[..., None]


def mirror_axis_angle(axis_angle):
    """
    Mirror axis-angle rotations through the x = 0 plane: (x, y, z) -> (x, -y, -z).

    This is R -> M R M with M = diag(-1, 1, 1): WiLoR reconstructs every hand as a right hand in
    a horizontally flipped crop, and a left MANO model takes the mirrored parameters
    (WiLoR-mini; the WiLoR author in WiLoR issue #33).
    """
    sign = axis_angle.new_tensor([1.0, -1.0, -1.0])
    return axis_angle * sign
