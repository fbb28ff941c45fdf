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
OpenCV's ``warpAffine`` and scipy's Gaussian blur, reproduced in batched torch.

The GPU path of :mod:`wilor_ros.crops` cuts hands out of a frame that lives on the device, so
the frame is uploaded once and no pixel comes back to the host. To keep that path identical to
the official crops (which call OpenCV on the host), the sampling reproduces OpenCV 5's
``warpAffine`` arithmetic: the 8-bit path's float32 coordinates (:func:`_uint8_taps`) and the
float64 path's fixed-point taps (:func:`_fixed_point_taps`); the blur uses scipy.ndimage's
kernel (:func:`gaussian_kernel`). A sampling *plan* is a (12, S, S) array per crop: the two
row taps, their weights, the two column taps, their weights and validity (see
:func:`sampling_plan`).
"""

import numpy as np
import torch
import torch.nn.functional as F


# skimage.filters.gaussian defaults (scipy.ndimage.gaussian_filter, mode 'nearest').
GAUSSIAN_TRUNCATE = 4.0


def gaussian_kernel(sigma):
    """scipy.ndimage's 1-D Gaussian weights (float64) and radius for ``truncate`` 4."""
    sigma = float(sigma)
    radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    return weights / weights.sum(), radius


def _uint8_coords(scale, offset, crop_size, axis):
    """
    Source coordinates of OpenCV 5's 8-bit ``warpAffine`` along one axis (float32).

    OpenCV >= 4.11 casts the inverse matrix to float32 and computes, per output pixel (x, y),
    ``sx = fma(M0, x, float(y * M1 + M2))`` and ``sy = fma(M3, x, float(y * M4 + M5))``; M1
    and M3 are float64 round-off, below float32 resolution next to M2 and M5, so columns are
    an fma and rows two float32 steps. The product of two float32 values is exact in float64,
    so one float64 evaluation and a cast is the fma.
    """
    m_scale, m_offset = np.float32(scale), np.float32(offset)
    dst = np.arange(crop_size, dtype=np.float32)
    if axis == 'x':
        return (np.float64(m_scale) * dst.astype(np.float64) + np.float64(m_offset)
                ).astype(np.float32)
    return (dst * m_scale).astype(np.float32) + m_offset


def _uint8_taps(scale, offset, crop_size, axis):
    """First tap (int64) and interpolation fraction (float32), as OpenCV 5 splits them."""
    coords = _uint8_coords(scale, offset, crop_size, axis)
    first = np.floor(coords)
    return first.astype(np.int64), (coords - first.astype(np.float32)).astype(np.float32)


def fixed_point_column_starts(inverse, crop_size):
    """
    Per output row, the fixed-point column start of OpenCV's float64-image ``warpAffine``.

    ``round((M1 y + M2) 1024)`` (int64, (S,)). M1 is float64 round-off, but it moves the
    rounding when M2 * 1024 sits on a tie (seen: -415.06884765625006), so a crop can have two
    column grids, each for a range of rows.
    """
    rows = np.arange(crop_size, dtype=np.float64)
    return np.rint((inverse[0, 1] * rows + inverse[0, 2]) * 1024).astype(np.int64)


def _fixed_point_taps(inverse, crop_size, axis, column_start=0):
    """
    First tap and fraction of OpenCV's fixed-point ``warpAffine`` (its float64-image path).

    Coordinates are rounded to 1/32 pixel in float64 -> int arithmetic: columns
    ``round(M0 x 1024) + column_start + 16``, rows ``round((M4 y + M5) 1024) + 16`` (the
    M3 x term rounds to 0), then ``>> 5``. The official blurred crops (float64 images) go
    through this path.
    """
    dst = np.arange(crop_size, dtype=np.float64)
    if axis == 'x':
        fixed = np.rint(inverse[0, 0] * dst * 1024).astype(np.int64) + np.int64(column_start)
    else:
        fixed = np.rint((inverse[1, 1] * dst + inverse[1, 2]) * 1024).astype(np.int64)
    fixed = (fixed + 16) >> 5
    return fixed >> 5, ((fixed & 31) / 32.0).astype(np.float32)


def _axis_taps(first, extent, flip):
    """Two neighbouring taps per position on an axis of ``extent`` pixels: (2, N) idx, valid."""
    taps = np.stack((first, first + 1))
    valid = (taps >= 0) & (taps < extent)
    if flip:
        # Left hands sample the mirrored image: column j of it is column W - 1 - j.
        taps = extent - 1 - taps
    return np.clip(taps, 0, extent - 1), valid


def sampling_plan(inverse, flip, image_hw, crop_size, column_start=None):
    """
    One hand's sampling plan as a (10, crop_size) float64 array (one upload for all hands).

    Rows: the two row taps, their validity, the two column taps, their validity, the column
    fraction alpha and the row fraction beta (taps are clamped; validity says which read 0).
    ``column_start`` None: OpenCV's 8-bit path; else its fixed-point path with that start.
    """
    height, width = image_hw
    if column_start is None:
        col_first, alpha = _uint8_taps(inverse[0, 0], inverse[0, 2], crop_size, 'x')
        row_first, beta = _uint8_taps(inverse[1, 1], inverse[1, 2], crop_size, 'y')
    else:
        col_first, alpha = _fixed_point_taps(inverse, crop_size, 'x', column_start)
        row_first, beta = _fixed_point_taps(inverse, crop_size, 'y')
    cols, col_valid = _axis_taps(col_first, width, flip)
    rows, row_valid = _axis_taps(row_first, height, False)
    return np.concatenate((rows, row_valid, cols, col_valid, alpha[None], beta[None])
                          ).astype(np.float64)


def flat_row_taps(plans, width, first_pixel=0):
    """
    Turn the row taps of sampling plans (..., 10, S) into flat pixel offsets, in place.

    A pixel (row, column) of a frame of ``width`` columns whose first pixel is
    ``first_pixel`` in the flattened batch is ``row * width + first_pixel + column``: the
    row part is folded into the plan on the host (exact in float64 up to 2**53 pixels).
    """
    plans[..., 0:2, :] = plans[..., 0:2, :] * width + first_pixel
    return plans


def sample_taps(pixels, plan, round_to_uint8, all_inside=False):
    """
    Bilinear-sample crops from ``pixels`` (P, 3) with per-hand taps; return (N, S, S, 3).

    ``pixels`` is one or more frames flattened to pixel rows (``frame.reshape(-1, 3)``, frames
    concatenated), so that the hands of several frames are cut in one gather; the plan's row
    taps are flat pixel offsets (``row * width + first pixel of the frame``, see
    :func:`flat_row_taps`). OpenCV's arithmetic: t = fma(a, p01 - p00, p00) per row, then
    fma(b, t1 - t0, t0), in float32; the 8-bit path rounds half to even. Products of a
    float32 and a float32 or small integer are exact in float64, so each fma is one float64
    evaluation and a cast to float32. Taps outside the image read 0 (BORDER_CONSTANT);
    ``all_inside`` skips that masking. Returns float32 for the 8-bit path (integers 0-255),
    else float64 (OpenCV's float64 path weighs the four taps with a float weight table
    instead: the same up to rounding).
    """
    channels = pixels.shape[1]
    rows, cols = plan[:, 0:2].long(), plan[:, 4:6].long()
    row_outside, col_outside = plan[:, 2:4] < 0.5, plan[:, 6:8] < 0.5
    alpha = plan[:, 8, None, :, None].float().double()
    beta = plan[:, 9, :, None, None].float().double()

    def tap(r, c):
        index = rows[:, r, :, None] + cols[:, c, None, :]
        values = pixels.index_select(0, index.reshape(-1)).reshape(index.shape + (channels,))
        if not all_inside:
            outside = row_outside[:, r, :, None] | col_outside[:, c, None, :]
            values = values.masked_fill(outside[..., None], 0)
        return values.double()

    p00, p01 = tap(0, 0), tap(0, 1)
    top = torch.addcmul(p00, alpha, p01.sub_(p00)).float()
    del p00, p01
    p10, p11 = tap(1, 0), tap(1, 1)
    bottom = torch.addcmul(p10, alpha, p11.sub_(p10)).float()
    del p10, p11
    out = torch.addcmul(top.double(), beta, bottom.sub_(top).double()).float()
    return torch.round_(out) if round_to_uint8 else out.double()


def blur_window(plan, sigma, image_hw):
    """
    Pixels a blurred crop reads, plus the kernel radius: (r0, r1, c0, c1), or None if none.

    ``plan`` (10, N): the taps of :func:`sampling_plan`, one or more plans side by side.
    Blurring only this window is equivalent, on the pixels read, to the official whole-image
    ``skimage.filters.gaussian`` (mode 'nearest' = replicate the image border): the replicate
    padding applied here is only wrong within one radius of a window edge that is not an
    image edge, and those pixels are never read. Host arithmetic on the host plan.
    """
    height, width = image_hw
    rows, row_valid = plan[0:2].astype(np.int64), plan[2:4] > 0.5
    cols, col_valid = plan[4:6].astype(np.int64), plan[6:8] > 0.5
    if not (row_valid.any() and col_valid.any()):
        return None
    _, radius = gaussian_kernel(sigma)
    r0 = max(int(rows[row_valid].min()) - radius, 0)
    r1 = min(int(rows[row_valid].max()) + radius + 1, height)
    c0 = max(int(cols[col_valid].min()) - radius, 0)
    c1 = min(int(cols[col_valid].max()) + radius + 1, width)
    return r0, r1, c0, c1


def blur_region(frame, window, sigma):
    """Blur ``frame[r0:r1, c0:c1]`` (float32, replicate border) on the frame's device."""
    r0, r1, c0, c1 = window
    weights, radius = gaussian_kernel(sigma)
    region = frame[r0:r1, c0:c1].float()
    # Separable correlation as a few shifted multiply-adds (faster than a depthwise conv2d);
    # the weights are Python floats, so nothing is uploaded.
    padded = F.pad(region.permute(2, 0, 1)[None], (radius, radius, radius, radius),
                   mode='replicate')[0].permute(1, 2, 0)
    rows = sum(float(w) * padded[k:k + r1 - r0] for k, w in enumerate(weights))
    return sum(float(w) * rows[:, k:k + c1 - c0] for k, w in enumerate(weights)).contiguous()


def plan_blurred_warp(inverse, flip, image_hw, sigma, crop_size):
    """
    Host plan of one blurred crop: (window, plans (G, 10, S), rows (G, S) float64) or None.

    OpenCV's float64 path can use two column grids (see :func:`fixed_point_column_starts`):
    one plan per grid, ``rows`` marks the output rows each grid serves. Plans are relative to
    the blurred window. None when the crop reads no image pixel (it is all zero).
    """
    starts = fixed_point_column_starts(inverse, crop_size)
    groups = np.unique(starts)
    plans = np.stack([sampling_plan(inverse, flip, image_hw, crop_size, start)
                      for start in groups])
    window = blur_window(np.concatenate(list(plans), axis=1), sigma, image_hw)
    if window is None:
        return None
    r0, r1, c0, c1 = window
    plans[:, 0:2] -= r0
    plans[:, 4:6] -= c0
    # Taps outside the window are invalid taps, clamped to stay in bounds.
    plans[:, 0:2] = np.clip(plans[:, 0:2], 0, r1 - r0 - 1)
    plans[:, 4:6] = np.clip(plans[:, 4:6], 0, c1 - c0 - 1)
    flat_row_taps(plans, c1 - c0)
    rows = (starts[None, :] == groups[:, None]).astype(np.float64)
    return window, plans, rows


def cut_blurred_warp(frame, window, sigma, plans, rows):
    """Blurred crop (S, S, 3) float64 on the frame's device from its uploaded plan."""
    region = blur_region(frame, window, sigma)
    pixels = region.reshape(-1, region.shape[2])
    values = None
    for group in range(plans.shape[0]):
        crop = sample_taps(pixels, plans[group:group + 1], round_to_uint8=False)[0]
        if values is None:
            values = crop
        else:
            # The rows past the rounding tie use the other column grid.
            values = torch.where(rows[group][:, None, None] > 0.5, crop, values)
    return values
