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
From the reconstructor's raw crop outputs to :class:`~wilor_ros.hand.HandResult` per hand.

WiLoR reconstructs every hand as a **right** hand: left hands arrive as crops of the mirrored
image, so their outputs live in a mirrored frame. As the official demo.py does, the crop
camera's tx changes sign and the x coordinate of vertices and joints is mirrored back
(:func:`mirror_left_hands`); the translation then goes to the full image
(:mod:`wilor_ros.camera`).

Rotations are reported as axis-angle vectors. For left hands they are mirrored as
``(x, y, z) -> (x, -y, -z)``, i.e. ``R -> M R M`` with ``M = diag(-1, 1, 1)``: the WiLoR-mini
convention (and what the WiLoR author recommends, WiLoR issue #33), which makes them the pose
parameters of a *left* MANO model. Note that the official demo never converts them: its
``global_orient`` / ``hand_pose`` matrices stay in the right-hand (mirrored) frame.

Two kinds of 2-D keypoints are given:

* ``keypoints_2d``: the camera-frame 3-D joints projected through the camera used (heuristic
  or real K). Under the heuristic this is exactly the official demo's ``project_full_img``;
  under K it is consistent with ``keypoints_3d`` and ``cam_t``.
* ``keypoints_2d_network``: the network's own ``pred_keypoints_2d`` (joints projected by its
  virtual crop camera, focal 5000 px per 256 px, crop-normalised units) mapped into the image
  as ``box_center + b * uv`` (x mirrored for left hands).

Both agree only in the weak-perspective limit: each equals ``c + (u_wp - c) tz / (Z + tz)``
with ``u_wp`` the weak-perspective position, for its own camera depth tz. The heuristic
camera is almost orthographic (hands at 10-20 m), the crop camera somewhat less, and a real
camera (hands at ~0.5-1 m) is clearly perspective: there the joints' depth offsets of up to
~0.1 m change the local image scale by ~10 %, and ``keypoints_2d`` differs from
``keypoints_2d_network`` by up to a few percent of the box size (tens of pixels). That is
perspective, not error: the MANO-frame origin projects onto the same pixel in all three.
"""

import numpy as np
import torch

from wilor_ros.camera import cam_crop_to_camera, project_points
from wilor_ros.finite import split_finite
from wilor_ros.hand import HandResult
from wilor_ros.rotations import rotmat_to_axis_angle
from wilor_ros.transfers import host_array, to_host


def side_multiplier(is_right):
    """+1 for right hands, -1 for left hands (official ``2 * right - 1``)."""
    if isinstance(is_right, torch.Tensor):
        return 2.0 * is_right.to(torch.float32) - 1.0
    return 2.0 * np.asarray(is_right, dtype=np.float64) - 1.0


def mirror_left_hands(points, is_right):
    """Mirror x of left hands' points (B, N, 3) back from the right-hand frame (official)."""
    multiplier = side_multiplier(is_right)
    points = points.clone() if isinstance(points, torch.Tensor) else np.array(points)
    points[..., 0] = points[..., 0] * multiplier[:, None]
    return points


def flip_crop_camera(pred_cam, is_right):
    """Flip the sign of tx of the crop camera [s, tx, ty] for left hands (official demo)."""
    multiplier = side_multiplier(is_right)
    cam = pred_cam.clone() if isinstance(pred_cam, torch.Tensor) else np.array(pred_cam)
    cam[:, 1] = cam[:, 1] * multiplier
    return cam


def network_keypoints_to_image(keypoints_2d, box_center, box_size, is_right):
    """
    Map the network's crop-normalised 2-D joints (B, 21, 2) to image pixels.

    Crop pixel q maps to image pixel ``center + (q - 128) b / 256`` and the network's unit is
    ``(q - 128) / 256``; left-hand crops come from the mirrored image, hence the x sign.
    """
    uv = np.asarray(keypoints_2d, dtype=np.float64)
    scale = np.asarray(box_size, dtype=np.float64)[:, None, None]
    sign = np.stack([side_multiplier(is_right), np.ones(len(uv))], axis=-1)[:, None, :]
    return np.asarray(box_center, dtype=np.float64)[:, None, :] + sign * uv * scale


def outputs_to_host(outputs, compute_vertices=True):
    """
    Bring a batch of reconstructor outputs to the host in one transfer: float64 numpy arrays.

    Keys: pred_cam (B, 3), betas (B, 10), axis_angle (B, 16, 3) (global orientation, then the
    15 joints; still in the right-hand frame, see :func:`mirror_left_axis_angles`),
    keypoints_3d (B, 21, 3), keypoints_2d (B, 21, 2), vertices (B, 778, 3) when
    ``compute_vertices``. The rotation conversion runs on the outputs' device first.
    """
    flat, layout = pack_outputs(outputs, compute_vertices)
    return unpack_outputs(to_host(flat), layout)


def pack_outputs(outputs, compute_vertices=True):
    """
    Return the outputs :func:`outputs_to_host` brings down as one (B, F) float64 device tensor.

    And its layout (for :func:`unpack_outputs`): device work only, no wait, so a caller can
    queue more work before the copy (:meth:`wilor_ros.pipeline.HandPipeline.process_stream`).
    """
    rotations = torch.cat((outputs['global_orient'], outputs['hand_pose']), dim=1).double()
    count = rotations.shape[0]
    parts = {
        'pred_cam': outputs['pred_cam'], 'betas': outputs['betas'],
        'axis_angle': rotmat_to_axis_angle(rotations),
        'keypoints_3d': outputs['pred_keypoints_3d'],
        'keypoints_2d': outputs['pred_keypoints_2d'],
    }
    if compute_vertices:
        parts['vertices'] = outputs['pred_vertices']
    flat = torch.cat([value.detach().double().reshape(count, -1) for value in parts.values()],
                     dim=1)
    return flat, [(key, tuple(value.shape[1:])) for key, value in parts.items()]


def unpack_outputs(flat, layout):
    """Split the host copy of :func:`pack_outputs`' tensor into its named float64 arrays."""
    host, start = {}, 0
    for key, shape in layout:
        size = int(np.prod(shape))
        host[key] = flat[:, start:start + size].reshape((flat.shape[0],) + shape)
        start += size
    return host


def mirror_left_axis_angles(axis_angle, is_right):
    """Mirror left hands' axis-angle rotations (x, -y, -z) (host form of ``mirror_axis_angle``)."""
    axis_angle = np.array(axis_angle, dtype=np.float64)
    axis_angle[~np.asarray(is_right, dtype=bool)] *= np.array([1.0, -1.0, -1.0])
    return axis_angle


def build_hand_results(outputs, box_center, box_size, boxes, scores, is_right, intrinsics,
                       compute_vertices=True, drop_non_finite=True):
    """
    Turn one batch of reconstructor outputs into a list of :class:`HandResult`.

    Public API: the one-call form for a user who has raw reconstructor outputs and the crop
    geometry (the pipeline itself goes through :func:`outputs_to_host` and
    :func:`hand_results_from_host`).

    ``outputs``: the reconstructor's dict of torch tensors (pred_cam, global_orient,
    hand_pose, betas, pred_keypoints_3d, pred_keypoints_2d, pred_vertices) in the official raw
    semantics (right-hand frame, crop camera); ``box_center`` (B, 2) and ``box_size`` (B,):
    the crop geometry (:func:`wilor_ros.crops.crop_geometry`); ``boxes`` (B, 4), ``scores``
    (B,), ``is_right`` (B,): the detections; ``intrinsics``:
    :class:`~wilor_ros.camera.CameraIntrinsics` (heuristic or real K); ``compute_vertices``:
    fill ``vertices`` (else None). Camera math runs in float64; results are float32.
    Hands with a non-finite number (a degenerate network output, float32 overflow) are
    dropped (:mod:`wilor_ros.finite`): fewer results than boxes then, in the same order;
    ``drop_non_finite=False`` leaves that to the caller (one result per box).
    """
    if len(host_array(is_right).reshape(-1)) == 0:
        return []
    return hand_results_from_host(outputs_to_host(outputs, compute_vertices), box_center,
                                  box_size, boxes, scores, is_right, intrinsics,
                                  compute_vertices, drop_non_finite)


# Overflow and NaN warnings would only repeat what the finiteness check counts.
@np.errstate(all='ignore')
def hand_results_from_host(host, box_center, box_size, boxes, scores, is_right, intrinsics,
                           compute_vertices=True, drop_non_finite=True):
    """:func:`build_hand_results` from outputs already on the host (:func:`outputs_to_host`)."""
    is_right = host_array(is_right, bool).reshape(-1)
    count = len(is_right)
    if count == 0:
        return []
    axis_angle = mirror_left_axis_angles(host['axis_angle'], is_right)
    box_center = host_array(box_center, np.float64)
    box_size = host_array(box_size, np.float64)
    cam = flip_crop_camera(host['pred_cam'], is_right)
    cam_t = cam_crop_to_camera(cam, box_center, box_size, intrinsics)
    joints = mirror_left_hands(host['keypoints_3d'], is_right) + cam_t[:, None, :]
    joints_2d = project_points(joints, intrinsics)
    network_2d = network_keypoints_to_image(host['keypoints_2d'], box_center, box_size,
                                            is_right)
    vertices = None
    if compute_vertices:
        vertices = mirror_left_hands(host['vertices'], is_right) + cam_t[:, None, :]
    boxes = host_array(boxes, np.float32).reshape(count, 4)
    scores = host_array(scores, np.float64).reshape(count)
    f32 = np.float32
    hands = [
        HandResult(
            is_right=bool(is_right[n]), score=float(scores[n]), box=boxes[n].copy(),
            keypoints_3d=joints[n].astype(f32), keypoints_2d=joints_2d[n].astype(f32),
            keypoints_2d_network=network_2d[n].astype(f32),
            global_orient=axis_angle[n, 0].astype(f32),
            hand_pose=axis_angle[n, 1:].reshape(-1).astype(f32),
            betas=host['betas'][n].astype(f32),
            cam_t=cam_t[n].astype(f32), focal_length=intrinsics.focal_length,
            principal_point=intrinsics.principal_point,
            focal_from_camera_info=bool(intrinsics.from_camera_info),
            vertices=None if vertices is None else vertices[n].astype(f32))
        for n in range(count)]
    return split_finite(hands)[0] if drop_non_finite else hands
