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
Synthetic RGB-D scenes with known truth for the depth fusion (bench and tests).

A MANO hand (the fixture checkpoint's MANO model, random pose and shape) is the **monocular**
hand; the **true** hand is that hand scaled about the camera centre by s in [0.6, 1.4] (what a
monocular depth error is to first order), its root at 0.3-1.5 m. The depth image (640 x 480,
aligned, RealSense-like) is rendered from the true mesh with a z-buffer and then degraded:
a background plane 0.1-0.5 m behind the hand (seen between the fingers), a partial occluder
5-15 cm in front of the hand covering 10-35 % of its box, Gaussian noise growing with z^2
(sigma = 1 mm + 2 mm/m^2 * z^2), quantisation to millimetres, flying pixels (half of the
pixels at depth edges take a depth between the two sides), and 10 % holes (0). The detector's
keypoint confidences are simulated: joints behind the occluder get 0.2, the others 0.9.
With ``pose_error`` the monocular hand also has a wrong articulation (finger rotations off by
that many radians), as real monocular estimates do: then no scale makes it exact.
"""

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation
import torch

from wilor_ros.camera import intrinsics_from_values
from wilor_ros.depth_fusion import rasterize_depth
from wilor_ros.models.mano import mano_buffers_from_pickle, MANOLayer

WIDTH, HEIGHT = 640, 480
INTRINSICS = intrinsics_from_values(615.0, 615.0, 320.0, 240.0)


@dataclasses.dataclass
class Scene:
    """One synthetic RGB-D frame: monocular hand, true hand, depth image (uint16 mm)."""

    mono_vertices: np.ndarray
    mono_joints: np.ndarray
    mono_cam_t: np.ndarray
    true_vertices: np.ndarray
    true_joints: np.ndarray
    true_cam_t: np.ndarray
    scale: float
    depth: np.ndarray
    keypoint_confidence: np.ndarray
    faces: np.ndarray


def load_mano(path):
    """Return the fixture's MANO layer (CPU, float32)."""
    return MANOLayer(**mano_buffers_from_pickle(path)).eval()


def _mano(mano, orient, pose, betas):
    with torch.no_grad():
        vertices, joints = mano(torch.tensor(orient[None, None], dtype=torch.float32),
                                torch.tensor(pose[None], dtype=torch.float32),
                                torch.tensor(betas, dtype=torch.float32))
    return vertices[0].double().numpy(), joints[0].double().numpy()


def _posed_hand(mano, rng, pose_error):
    """
    Random plausible MANO hand in its model frame: (vertices, joints) true and estimated.

    The estimate has every finger rotation perturbed by ``pose_error`` rad (std per axis), the
    kind of articulation error a monocular network makes, with the wrist at the same place.
    """
    orient = Rotation.random(random_state=rng).as_matrix()
    rotvec = rng.normal(0.0, 0.25, size=(15, 3))
    betas = rng.normal(0.0, 0.8, size=(1, 10))
    truth = _mano(mano, orient, Rotation.from_rotvec(rotvec).as_matrix(), betas)
    if not pose_error:
        return truth, truth
    noisy = rotvec + rng.normal(0.0, pose_error, size=rotvec.shape)
    vertices, joints = _mano(mano, orient, Rotation.from_rotvec(noisy).as_matrix(), betas)
    offset = truth[1][0] - joints[0]
    return truth, (vertices + offset, joints + offset)


def make_scene(mano, rng, max_depth=1.5, min_depth=0.3, pose_error=0.0):
    """Draw one scene (see the module docstring); ``pose_error``: see ``_posed_hand``."""
    faces = mano.faces_tensor.numpy()
    (local_vertices, local_joints), (estimate_vertices, estimate_joints) = _posed_hand(
        mano, rng, pose_error)
    depth = rng.uniform(min_depth, max_depth)
    # Root direction: anywhere the hand stays in the image.
    margin = 0.12 / depth * INTRINSICS.fx + 20
    u = rng.uniform(margin, WIDTH - margin) if margin < WIDTH / 2 else WIDTH / 2
    v = rng.uniform(margin, HEIGHT - margin) if margin < HEIGHT / 2 else HEIGHT / 2
    root = np.array([(u - INTRINSICS.cx) / INTRINSICS.fx * depth,
                     (v - INTRINSICS.cy) / INTRINSICS.fy * depth, depth])
    true_cam_t = root - local_joints[0]
    true_vertices = local_vertices + true_cam_t
    true_joints = local_joints + true_cam_t
    scale = rng.uniform(0.6, 1.4)            # true = scale * mono
    mono_vertices = (estimate_vertices + true_cam_t) / scale
    mono_joints = (estimate_joints + true_cam_t) / scale
    mono_cam_t = true_cam_t / scale

    rendered = rasterize_depth(true_vertices, faces, INTRINSICS, (HEIGHT, WIDTH),
                               max_steps=48).astype(np.float64)
    hand_mask = np.isfinite(rendered)
    rows, cols = np.nonzero(hand_mask)
    # Background plane, tilted, behind the hand.
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    background = (depth + rng.uniform(0.1, 0.5)
                  + rng.uniform(-1e-4, 1e-4) * (xx - INTRINSICS.cx)
                  + rng.uniform(-1e-4, 1e-4) * (yy - INTRINSICS.cy))
    scene = np.where(hand_mask, rendered, background)
    # Partial occluder in front: a rectangle over one side of the hand's box.
    occluder = np.zeros_like(hand_mask)
    if len(rows):
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        fraction = rng.uniform(0.1, 0.35)
        if rng.random() < 0.5:
            width = int((right - left) * fraction)
            start = left if rng.random() < 0.5 else right - width
            occluder[top:bottom + 1, start:start + width + 1] = True
        else:
            height = int((bottom - top) * fraction)
            start = top if rng.random() < 0.5 else bottom - height
            occluder[start:start + height + 1, left:right + 1] = True
        near = max(np.nanmin(np.where(hand_mask, rendered, np.inf)) - rng.uniform(0.05, 0.15),
                   0.15)
        scene = np.where(occluder, near, scene)
    # Sensor: noise growing with z^2, flying pixels at edges, holes, millimetre quantisation.
    noisy = scene + rng.normal(size=scene.shape) * (0.001 + 0.002 * scene ** 2)
    up = np.abs(np.diff(scene, axis=0, prepend=scene[:1])) > 0.02
    left_edge = np.abs(np.diff(scene, axis=1, prepend=scene[:, :1])) > 0.02
    edges = (up | left_edge) & (rng.random(scene.shape) < 0.5)
    neighbour = np.where(up, np.roll(scene, 1, axis=0), np.roll(scene, 1, axis=1))
    mix = rng.random(scene.shape)
    noisy = np.where(edges, mix * scene + (1 - mix) * neighbour, noisy)
    depth_mm = np.clip(np.rint(noisy * 1000.0), 0, 65535).astype(np.uint16)
    depth_mm[rng.random(depth_mm.shape) < 0.10] = 0

    ju = np.rint(true_joints[:, 0] / true_joints[:, 2] * INTRINSICS.fx + INTRINSICS.cx)
    jv = np.rint(true_joints[:, 1] / true_joints[:, 2] * INTRINSICS.fy + INTRINSICS.cy)
    ju = np.clip(ju, 0, WIDTH - 1).astype(int)
    jv = np.clip(jv, 0, HEIGHT - 1).astype(int)
    confidence = np.where(occluder[jv, ju], 0.2, 0.9).astype(np.float32)
    return Scene(mono_vertices, mono_joints, mono_cam_t, true_vertices, true_joints,
                 true_cam_t, float(scale), depth_mm, confidence, faces)
