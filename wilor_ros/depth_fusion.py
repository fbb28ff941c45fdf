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
Metric hand depth from a depth image aligned to the colour image (RGB-D fusion).

Why a scale: a monocular model sees a hand's image, not its size. A hand ``s`` times larger and
``s`` times farther away projects onto the same pixels, so WiLoR's depth error (about 10 cm with
the true focal length) is, to first order, a **scaling about the camera centre**. Fusion therefore
estimates one number per hand, ``s``, and replaces every 3-D point ``p`` (translation, joints,
vertices) by ``s p``: all 2-D projections stay exactly as the network saw them, while the depth
becomes the measured one. The MANO relation becomes ``vertices = s * MANO(theta, beta) + cam_t``
(``HandResult.depth_scale``).

Per hand:

1. **Visible vertices.** The mesh is z-buffered through K (each triangle is sampled on a
   barycentric grid fine enough for its size in pixels, splatted with the nearest depth; empty
   pinholes take their neighbours' minimum); a vertex is visible when it lies within a few
   millimetres of the z-buffer at its pixel. Hidden vertices (the far side of the hand, fingers
   behind the palm) are never compared with the depth image.
2. **Samples.** At each visible vertex's pixel the depth is the median of the valid values of
   its 3x3 neighbourhood (0, NaN, inf are holes), which removes isolated flying pixels. Each
   sample says ``s_i = z_measured / z_model``.
3. **Consensus.** Background between the fingers, an object in front of the palm and flying
   pixels at the silhouette give wrong samples, often many. Every sample's ratio is tried as a
   candidate and scored by the (confidence-weighted) number of samples that agree within the
   depth noise, ``tol(z) = inlier_tolerance + noise_per_m2 * z**2`` (RealSense-like noise grows
   with z squared); the best candidate wins, which is a 1-parameter RANSAC tried exhaustively.
4. **Refinement.** Weighted least squares over the inliers, ``s = sum w zd zm / sum w zm^2``,
   with the inliers re-selected three times. Weights are the detector's keypoint confidence of
   the joint nearest to each vertex (when given): a joint the detector considers hidden (behind
   an object) counts little.
5. **Acceptance.** At least ``min_inliers`` inliers and an inlier ratio of ``min_inlier_ratio``
   among the valid samples, else the monocular result is kept and :class:`DepthFit` says why.

Failure modes (documented in docs/rgbd.md): a depth image that is not registered to the colour
image (wrong extrinsics) or not in sync (fast motion) biases the scale; a hand touching a
surface with the occluder covering most of it can lock onto the occluder when fewer hand pixels
than occluder pixels remain (the consensus picks the largest consistent group); with the
heuristic camera (no real K) there is nothing metric to fuse, so the pipeline refuses depth
without a camera matrix; a badly wrong monocular shape (wrong articulation) leaves residuals
that a single scale cannot remove (reported as ``depth_residual``).
"""

import dataclasses
from typing import Optional

import cv2
import numpy as np

# Translation sources (HandResult.translation_source; Hand.msg TRANSLATION_* constants).
SOURCE_HEURISTIC = 'heuristic'
SOURCE_CAMERA_INFO = 'camera_info'
SOURCE_DEPTH = 'depth'
TRANSLATION_SOURCES = (SOURCE_HEURISTIC, SOURCE_CAMERA_INFO, SOURCE_DEPTH)

# Points closer than this to the camera plane cannot be projected meaningfully.
_MIN_Z = 1e-3


@dataclasses.dataclass(frozen=True)
class DepthFusionConfig:
    """
    Settings of the RGB-D fit (metres unless stated).

    ``inlier_tolerance`` + ``noise_per_m2`` * z^2: how far a measured depth may lie from the
    scaled model and still agree; ``min_inliers`` / ``min_inlier_ratio``: acceptance;
    ``scale_range``: scales outside are never considered (a hand 3x off is not a hand);
    ``visibility_tolerance``: z-buffer slack in metres, plus ``visibility_pixels`` pixels' worth
    of metric size (surfaces slanted to the camera change depth across a pixel).
    """

    inlier_tolerance: float = 0.008
    noise_per_m2: float = 0.01
    min_inliers: int = 15
    min_inlier_ratio: float = 0.25
    scale_range: tuple = (0.33, 3.0)
    visibility_tolerance: float = 0.004
    visibility_pixels: float = 3.0
    refinements: int = 3

    def __post_init__(self):
        """Reject settings that make the fit meaningless."""
        if not (self.inlier_tolerance > 0 and self.noise_per_m2 >= 0):
            raise ValueError('DepthFusionConfig tolerances must be positive')
        if self.min_inliers < 1 or not 0 <= self.min_inlier_ratio <= 1:
            raise ValueError('DepthFusionConfig min_inliers >= 1 and min_inlier_ratio in [0, 1]')
        low, high = self.scale_range
        if not 0 < low < 1 < high:
            raise ValueError('DepthFusionConfig scale_range must bracket 1, got '
                             f'{self.scale_range}')


@dataclasses.dataclass(frozen=True)
class DepthFit:
    """
    Outcome of the fit for one hand.

    ``scale``: the factor applied (1.0 when not accepted); ``samples``: valid depth samples at
    visible vertices; ``inliers``: samples agreeing with the scale; ``inlier_ratio``:
    inliers / samples; ``residual``: RMS depth difference of the inliers (m); ``accepted``: the
    scale was applied; ``reason``: why not, when not.
    """

    scale: float
    samples: int
    inliers: int
    inlier_ratio: float
    residual: float
    accepted: bool
    reason: str = ''


def depth_to_metres(depth, image_shape=None):
    """
    Convert an aligned depth image to float32 metres with NaN for "no data".

    ``uint16``: millimetres (RealSense / Azure Kinect ``16UC1``), 0 = no data; ``float32`` /
    ``float64``: metres (``32FC1``), 0, NaN, inf and negative values = no data. ``image_shape``:
    the colour image's shape; the depth must have the same height and width (aligned, i.e.
    registered to the colour camera). ValueError otherwise.
    """
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f'depth must be a single-channel H x W image, got shape {depth.shape}')
    if image_shape is not None and depth.shape != tuple(image_shape[:2]):
        raise ValueError(f'depth is {depth.shape[1]}x{depth.shape[0]} but the colour image is '
                         f'{image_shape[1]}x{image_shape[0]}: the depth must be aligned '
                         '(registered) to the colour image')
    if depth.dtype == np.uint16:
        metres = depth.astype(np.float32) * np.float32(0.001)
        metres[depth == 0] = np.nan
        return metres
    if depth.dtype in (np.float32, np.float64):
        metres = depth.astype(np.float32, copy=True)
        with np.errstate(invalid='ignore'):
            metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
        return metres
    raise ValueError(f'depth must be uint16 millimetres or float32 metres, got {depth.dtype}')


def _project(points, intrinsics):
    z = points[..., 2]
    safe = np.where(z > _MIN_Z, z, 1.0)
    u = intrinsics.fx * points[..., 0] / safe + intrinsics.cx
    v = intrinsics.fy * points[..., 1] / safe + intrinsics.cy
    return u, v


def rasterize_depth(vertices, faces, intrinsics, image_shape, region=None, max_steps=24,
                    fill_pinholes=True):
    """
    Z-buffer a triangle mesh through a pinhole camera: the nearest z per pixel (inf: empty).

    ``vertices`` (V, 3) camera frame metres, ``faces`` (F, 3), ``intrinsics``: fx, fy, cx, cy,
    ``image_shape``: (H, W, ...); ``region``: (x0, y0, x1, y1) pixel window to render (default:
    the whole image). Each triangle is sampled on a barycentric grid with about one sample per
    pixel along its longest edge (at most ``max_steps`` per edge), every sample keeps the
    nearest depth at its pixel, and ``fill_pinholes`` closes the gaps the largest triangles
    leave with the minimum of their 3x3 neighbours. Triangles with a vertex behind the camera
    are skipped. Returns a float32 (y1 - y0, x1 - x0) array.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    height, width = image_shape[:2]
    x0, y0, x1, y1 = region if region is not None else (0, 0, width, height)
    box_w, box_h = x1 - x0, y1 - y0
    zbuffer = np.full(box_h * box_w, np.inf, dtype=np.float64)
    faces = faces[(vertices[:, 2] > _MIN_Z)[faces].all(axis=1)]
    if len(faces) and box_w > 0 and box_h > 0:
        u, v = _project(vertices, intrinsics)
        corners_uv = np.stack([u, v], axis=-1)[faces]                     # (F, 3, 2)
        edge = np.linalg.norm(corners_uv - np.roll(corners_uv, 1, axis=1), axis=-1).max()
        steps = int(np.clip(np.ceil(edge) + 1, 2, max_steps))
        i, j = np.meshgrid(np.arange(steps), np.arange(steps), indexing='ij')
        keep = (i + j) <= steps - 1
        a = (i[keep] / (steps - 1))[None, :, None]
        b = (j[keep] / (steps - 1))[None, :, None]
        corners = vertices[faces]                                         # (F, 3, 3)
        points = (a * corners[:, None, 0] + b * corners[:, None, 1]
                  + (1 - a - b) * corners[:, None, 2]).reshape(-1, 3)
        pu, pv = _project(points, intrinsics)
        col = np.rint(pu).astype(np.int64) - x0
        row = np.rint(pv).astype(np.int64) - y0
        ok = (col >= 0) & (col < box_w) & (row >= 0) & (row < box_h)
        np.minimum.at(zbuffer, row[ok] * box_w + col[ok], points[ok, 2])
    zbuffer = zbuffer.reshape(box_h, box_w).astype(np.float32)
    if fill_pinholes and zbuffer.size:
        # Only empty pixels take their neighbours' minimum: rendered depths stay unbiased.
        nearest = cv2.erode(zbuffer, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                            borderValue=np.inf)
        zbuffer = np.where(np.isinf(zbuffer), nearest, zbuffer)
    return zbuffer


def visible_vertices(vertices, faces, intrinsics, image_shape, config=DepthFusionConfig()):
    """
    Return a boolean mask (V,) of the vertices the camera sees (a z-buffer of the mesh).

    ``vertices`` (V, 3) camera frame metres, ``faces`` (F, 3), ``intrinsics``: fx, fy, cx, cy;
    ``image_shape``: (H, W, ...). Vertices outside the image or behind the camera are not
    visible.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    height, width = image_shape[:2]
    u, v = _project(vertices, intrinsics)
    in_front = vertices[:, 2] > _MIN_Z
    inside = in_front & (u > -0.5) & (u < width - 0.5) & (v > -0.5) & (v < height - 0.5)
    if not inside.any():
        return inside
    x0 = int(max(np.floor(u[inside].min()) - 2, 0))
    y0 = int(max(np.floor(v[inside].min()) - 2, 0))
    x1 = int(min(np.ceil(u[inside].max()) + 3, width))
    y1 = int(min(np.ceil(v[inside].max()) + 3, height))
    zbuffer = rasterize_depth(vertices, faces, intrinsics, image_shape, (x0, y0, x1, y1))
    vertex_col = np.clip(np.rint(u).astype(np.int64) - x0, 0, x1 - x0 - 1)
    vertex_row = np.clip(np.rint(v).astype(np.int64) - y0, 0, y1 - y0 - 1)
    z = vertices[:, 2]
    pixel_size = z / max(float(intrinsics.fx), 1e-6)
    slack = config.visibility_tolerance + config.visibility_pixels * pixel_size
    return inside & (z <= zbuffer[vertex_row, vertex_col] + slack)


def sample_depth(depth_m, u, v):
    """
    Depth at pixels (u, v): the median of the valid values of each 3x3 neighbourhood.

    NaN where fewer than 3 of the 9 neighbours hold data (a hole, or the image border).
    """
    height, width = depth_m.shape
    col = np.rint(u).astype(np.int64)
    row = np.rint(v).astype(np.int64)
    offsets = np.arange(-1, 2)
    rows = np.clip(row[:, None, None] + offsets[None, :, None], 0, height - 1)
    cols = np.clip(col[:, None, None] + offsets[None, None, :], 0, width - 1)
    patch = depth_m[rows, cols].reshape(len(u), 9).astype(np.float64)
    valid = np.isfinite(patch)
    result = np.full(len(u), np.nan)
    enough = valid.sum(axis=1) >= 3
    if enough.any():
        with np.errstate(all='ignore'):
            result[enough] = np.nanmedian(patch[enough], axis=1)
    return result


def vertex_weights(vertices, joints, keypoint_confidence):
    """Per-vertex weights: the detector confidence of each vertex's nearest joint, >= 0.05."""
    if keypoint_confidence is None:
        return np.ones(len(vertices))
    confidence = np.clip(np.asarray(keypoint_confidence, dtype=np.float64).reshape(-1), 0, 1)
    distance = np.linalg.norm(np.asarray(vertices, dtype=np.float64)[:, None, :]
                              - np.asarray(joints, dtype=np.float64)[None, :, :], axis=-1)
    return np.maximum(confidence[np.argmin(distance, axis=1)], 0.05)


def fit_depth_scale(vertices, faces, intrinsics, depth_m, joints=None, keypoint_confidence=None,
                    config=DepthFusionConfig()):
    """
    Estimate the scale about the camera centre that puts the hand onto the depth image.

    ``vertices`` (V, 3) monocular camera-frame mesh, ``faces`` (F, 3), ``intrinsics``: the real
    camera's, ``depth_m``: :func:`depth_to_metres` output of the same size as the colour image;
    ``joints`` (21, 3) and ``keypoint_confidence`` (21,): optional weights. Returns a
    :class:`DepthFit` (see the module docstring for the method).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    visible = visible_vertices(vertices, faces, intrinsics, depth_m.shape, config)
    if not visible.any():
        return DepthFit(1.0, 0, 0, 0.0, float('nan'), False, 'no vertex visible in the image')
    u, v = _project(vertices[visible], intrinsics)
    measured = sample_depth(depth_m, u, v)
    model = vertices[visible, 2]
    weights = (np.ones(len(model)) if joints is None
               else vertex_weights(vertices[visible], joints, keypoint_confidence))
    ratio = measured / model
    low, high = config.scale_range
    valid = np.isfinite(ratio) & (ratio >= low) & (ratio <= high)
    count = int(valid.sum())
    if count < config.min_inliers:
        return DepthFit(1.0, count, 0, 0.0, float('nan'), False,
                        f'only {count} valid depth samples at {int(visible.sum())} visible '
                        f'vertices (need {config.min_inliers})')
    measured, model, weights, ratio = measured[valid], model[valid], weights[valid], ratio[valid]
    tolerance = config.inlier_tolerance + config.noise_per_m2 * measured ** 2
    # Exhaustive 1-parameter consensus: every sample's ratio is a candidate scale.
    candidates = ratio if len(ratio) <= 400 else np.quantile(ratio, np.linspace(0, 1, 400))
    agree = np.abs(measured[None, :] - candidates[:, None] * model[None, :]) <= tolerance
    scale = float(candidates[np.argmax(agree.astype(np.float64) @ weights)])
    inliers = np.abs(measured - scale * model) <= tolerance
    for _ in range(config.refinements):
        if not inliers.any():
            break
        w = weights[inliers]
        scale = float(np.sum(w * measured[inliers] * model[inliers])
                      / np.sum(w * model[inliers] ** 2))
        inliers = np.abs(measured - scale * model) <= tolerance
    inlier_count = int(inliers.sum())
    ratio_in = inlier_count / count
    residual = (float(np.sqrt(np.mean((measured[inliers] - scale * model[inliers]) ** 2)))
                if inlier_count else float('nan'))
    if inlier_count < config.min_inliers or ratio_in < config.min_inlier_ratio:
        return DepthFit(1.0, count, inlier_count, ratio_in, residual, False,
                        f'{inlier_count} of {count} depth samples agree (need '
                        f'{config.min_inliers} and {config.min_inlier_ratio:.0%})')
    return DepthFit(scale, count, inlier_count, ratio_in, residual, True)


def apply_depth_scale(hand, fit):
    """
    Return a copy of ``hand`` scaled about the camera centre by ``fit.scale`` when accepted.

    Translation, joints and vertices are multiplied by the scale (2-D projections unchanged);
    ``depth_scale``, ``translation_source`` and the fit-quality fields are filled. A fit that
    was not accepted keeps the monocular geometry and only reports its quality.
    """
    residual = float(fit.residual) if np.isfinite(fit.residual) else 0.0
    quality = {'depth_inliers': int(fit.inliers),
               'depth_inlier_ratio': float(fit.inlier_ratio), 'depth_residual': residual}
    if not fit.accepted:
        return dataclasses.replace(hand, **quality)
    scale = np.float32(fit.scale)
    return dataclasses.replace(
        hand, cam_t=(hand.cam_t * scale).astype(np.float32),
        keypoints_3d=(hand.keypoints_3d * scale).astype(np.float32),
        vertices=None if hand.vertices is None else (hand.vertices * scale).astype(np.float32),
        depth_scale=float(fit.scale), translation_source=SOURCE_DEPTH, **quality)


def fuse_hands(hands, depth_m, intrinsics, faces, config=DepthFusionConfig()):
    """
    Fit and apply the depth scale of every hand of one frame; return (hands, fits).

    ``hands`` need vertices; ``intrinsics`` must come from a real camera (the heuristic camera
    places hands 10-20 m away, where no depth sensor measures anything): ValueError otherwise.
    """
    if not intrinsics.from_camera_info:
        raise ValueError('depth fusion needs the real camera matrix (camera_info / '
                         '--camera-matrix): with the focal heuristic the hands are not metric')
    fused, fits = [], []
    for hand in hands:
        if hand.vertices is None:
            raise ValueError('depth fusion needs the hand vertices (compute_vertices=True)')
        fit = fit_depth_scale(hand.vertices, faces, intrinsics, depth_m, hand.keypoints_3d,
                              getattr(hand, 'keypoint_confidence', None), config)
        fused.append(apply_depth_scale(hand, fit))
        fits.append(fit)
    return fused, fits


def describe(fit: Optional[DepthFit]):
    """Return a one-line summary of a fit for logs."""
    if fit is None:
        return 'no depth'
    if fit.accepted:
        return (f'scale {fit.scale:.3f}, {fit.inliers}/{fit.samples} inliers, residual '
                f'{fit.residual * 1000:.1f} mm')
    return f'kept the monocular depth: {fit.reason}'
