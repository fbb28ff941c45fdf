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
Blurred crops on a GPU with static shapes: two matrix products per batch of hands.

A hand close to the camera (crop side above 563.2 px) is cut by the official code from a
Gaussian-blurred float64 image (``skimage.filters.gaussian``: scipy's kernel, ``truncate`` 4,
border 'nearest') with OpenCV's float64 ``warpAffine`` (fixed-point taps, BORDER_CONSTANT 0).
The crop matrix is axis-aligned, so blur and bilinear interpolation are both separable and
compose into one operator per axis: a crop is ``R @ image @ C.T`` per channel, where each row
of ``R`` (S, H) holds the blurred-and-interpolated weights of the source rows one output row
reads, and ``C`` (S, W) the same for columns (left hands: mirrored column indices).

Why this and not "blur a window, then warp": the window a crop reads depends on the box, so
its shape (and the kernel's radius) changed with every hand and the work ran hand by hand in
Python: data-dependent shapes that no CUDA graph can hold. Here the weights are computed on
the host (where the taps already are, with OpenCV's own fixed-point arithmetic) as a fixed
number ``K`` of weights per output row starting at a per-row offset; the device builds the
dense operators with one scatter and runs two batched products. Shapes depend only on the image
size and on the number of blurred hands padded to a power of two, never on the boxes. The
products run in IEEE float32 (TF32 off even under the ``tf32`` precision): below 1e-4 grey
levels from the official float64 crops (``test/test_crops.py``).

OpenCV's float64 path can use two column grids for one crop, each for a range of rows (see
:func:`~wilor_ros.opencv_warp_torch.fixed_point_column_starts`): both grids are computed and
each output row takes its own.
"""

import contextlib

import numpy as np
import torch

from wilor_ros.opencv_warp_torch import (fixed_point_column_starts, fixed_point_taps,
                                         gaussian_kernel)

# Largest crop side, in multiples of the image's long side, that the static width of the
# weights covers: a detector box lies inside the image and the crop side is at most
# rescale_factor * 4/3 of it, so 4x covers every rescale factor up to 3. Larger crops (boxes
# given to ``reconstruct`` far outside the image) get wider weights: a new shape, still exact.
STATIC_CROP_SIDE = 4.0


def _radius(sigma):
    """Return the Gaussian kernel radius scipy uses for ``sigma`` (``truncate`` 4)."""
    return int(4.0 * float(sigma) + 0.5)


def weights_width(image_hw, crop_size, sigmas):
    """
    Weights per output row (K) for crops of an ``image_hw`` image with blur ``sigmas``.

    The static width covers any crop side up to :data:`STATIC_CROP_SIDE` x the image's long
    side (two bilinear taps 1 px apart, each spread over 2 radius + 1 source pixels); a larger
    blur widens it. Never wider than the image's long side.
    """
    long_side = max(image_hw)
    factor = STATIC_CROP_SIDE * long_side / crop_size / 2.0
    static_sigma = max((factor - 1.0) / 2.0, 0.0)
    radius = max([_radius(static_sigma)] + [_radius(sigma) for sigma in sigmas])
    return min(2 * radius + 2, long_side)


def _axis_weights(first, fraction, extent, flip, sigma, width):
    """
    One axis's operator of one crop: per output position, the first source index and K weights.

    ``first``, ``fraction``: OpenCV's fixed-point first tap and fraction per output position;
    taps outside ``[0, extent)`` read 0 (BORDER_CONSTANT); the blur replicates the border
    (mode 'nearest'); ``flip`` mirrors the indices (left hands read the mirrored image). The
    window of K = ``width`` source pixels is kept inside the image, so its indices are distinct
    and the device can scatter without atomics (deterministic sums).
    """
    kernel, radius = gaussian_kernel(sigma)
    taps = np.stack((first, first + 1), axis=1)
    tap_weights = np.stack((1.0 - fraction.astype(np.float64), fraction.astype(np.float64)),
                           axis=1) * ((taps >= 0) & (taps < extent))
    source = np.clip(taps[:, :, None] + np.arange(-radius, radius + 1), 0, extent - 1)
    if flip:
        source = extent - 1 - source
    width = min(width, extent)
    start = np.clip(source.min(axis=(1, 2)), 0, extent - width)
    weights = np.zeros((len(first), width), dtype=np.float64)
    positions = np.broadcast_to(np.arange(len(first))[:, None, None], source.shape)
    np.add.at(weights, (positions, source - start[:, None, None]),
              tap_weights[:, :, None] * kernel)
    return start, weights


def plan_blurred_crop(inverse, flip, image_hw, sigma, crop_size, width):
    """
    Host plan of one blurred crop: (rows (S, 1 + K), columns (2, S, 1 + K), grid (S,)).

    Each row of an operator is its start index followed by its K weights (float64; indices are
    exact). ``columns`` holds both column grids (the same one twice when there is one) and
    ``grid`` which one each output row uses. ``inverse``: the crop's inverse 2x3 matrix (as
    ``cv2.invertAffineTransform`` gives it), ``flip``: left hand.
    """
    height, image_width = image_hw
    row_first, beta = fixed_point_taps(inverse, crop_size, 'y')
    start, weights = _axis_weights(row_first, beta, height, False, sigma, width)
    rows = np.concatenate((start[:, None], weights), axis=1)
    column_starts = fixed_point_column_starts(inverse, crop_size)
    grids = np.unique(column_starts)
    columns = []
    for grid in (grids[0], grids[-1]):
        col_first, alpha = fixed_point_taps(inverse, crop_size, 'x', grid)
        start, weights = _axis_weights(col_first, alpha, image_width, flip, sigma, width)
        columns.append(np.concatenate((start[:, None], weights), axis=1))
    return rows, np.stack(columns), (column_starts == grids[-1]).astype(np.float64)


def padded_count(count):
    """Return the static number of blurred crops a batch of ``count`` is computed as."""
    return 1 << max(0, int(count) - 1).bit_length()


@contextlib.contextmanager
def ieee_float32_matmul():
    """Run float32 matrix products in IEEE float32 (not TF32) inside the block."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _dense(operator, extent):
    """Dense (..., S, extent) float32 operators from (..., S, 1 + K) start + weights rows."""
    start, weights = operator[..., :1], operator[..., 1:]
    index = start.long() + torch.arange(weights.shape[-1], device=operator.device)
    dense = operator.new_zeros(operator.shape[:-1] + (extent,), dtype=torch.float32)
    return dense.scatter_(-1, index, weights.float())


def cut_blurred_crops(frames, frame_index, rows, columns, grid):
    """
    Blurred crops (N, S, S, 3) float64 BGR grey levels from the uploaded plans of N crops.

    ``frames``: uint8 (F, H, W, 3) frames of one size on the device; ``frame_index`` (N,) each
    crop's frame; ``rows`` (N, S, 1 + K), ``columns`` (N, 2, S, 1 + K), ``grid`` (N, S): the
    stacked host plans of :func:`plan_blurred_crop` (padding crops: all weights 0). Static
    shapes, no host read: one scatter per axis, a gather of the frames and two batched
    products.
    """
    count, size = rows.shape[0], rows.shape[1]
    height, width = frames.shape[1], frames.shape[2]
    images = frames.index_select(0, frame_index.long()).float()
    with ieee_float32_matmul():
        # Rows: (N, S, H) @ (N, H, W * 3): the blurred, interpolated rows each output row reads.
        by_rows = torch.bmm(_dense(rows, height), images.reshape(count, height, width * 3))
        # Columns, both grids at once: (N, 2 S, W) @ (N, W, S * 3).
        by_rows = by_rows.reshape(count, size, width, 3).transpose(1, 2).reshape(
            count, width, size * 3)
        crops = torch.bmm(_dense(columns, width).reshape(count, 2 * size, width), by_rows)
    # (N, 2, S columns, S rows, 3) -> (N, 2, S rows, S columns, 3); each row its own grid.
    crops = crops.reshape(count, 2, size, size, 3).transpose(2, 3)
    return torch.where(grid[:, :, None, None] > 0.5, crops[:, 1], crops[:, 0]).double()
