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
OpenCV's ``warpAffine`` and scipy's Gaussian kernel, reproduced for batched torch.

The GPU path of :mod:`wilor_ros.crops` cuts hands out of a frame that lives on the device, so
the frame is uploaded once and no pixel comes back to the host. To keep that path identical to
the official crops (which call OpenCV on the host), the sampling reproduces OpenCV 5's
``warpAffine`` arithmetic: the 8-bit path's float32 coordinates (:func:`_uint8_taps`) for sharp
crops, and the float64 path's fixed-point taps (:func:`fixed_point_taps`) and scipy.ndimage's
kernel (:func:`gaussian_kernel`) for blurred ones (:mod:`wilor_ros.blurred_crops`). A sharp
crop's sampling *plan* is a (10, S) array: the two row taps, their validity, the two column
taps, their validity and the two fractions (see :func:`sampling_plan`).
"""

import numpy as np
import torch


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


def fixed_point_taps(inverse, crop_size, axis, column_start=0):
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


def sampling_plan(inverse, flip, image_hw, crop_size):
    """
    One sharp crop's sampling plan, (10, crop_size) float64 (one upload for all hands).

    OpenCV's 8-bit path. Rows: the two row taps, their validity, the two column taps, their
    validity, the column fraction alpha and the row fraction beta (taps are clamped; validity
    says which read 0).
    """
    height, width = image_hw
    col_first, alpha = _uint8_taps(inverse[0, 0], inverse[0, 2], crop_size, 'x')
    row_first, beta = _uint8_taps(inverse[1, 1], inverse[1, 2], crop_size, 'y')
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
