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
Hand crops of frames on the CPU: OpenCV, called as the official code calls it.

Sharp crops are ``cv2.warpAffine`` of the uint8 frame with the official matrix (left hands
from one mirrored copy of the frame, made only when there is a left hand), i.e. OpenCV's own
results; the normalisation is a 256-entry table per channel (an 8-bit crop has 256 values per
channel), written straight into the batch tensor. A blurred crop blurs only the window of the
frame its warp reads (``cv2.sepFilter2D``, float32) and warps it in float64 like the official
float64 image. Why not torch here: gathering and interpolating every tap in float64 costs 2-3
ms per hand on the CPU, OpenCV about 0.4 ms.
"""

import functools

import cv2
import numpy as np
import torch

from wilor_ros.crop_geometry import blur_sigma, crop_matrix, IMAGE_MEAN, IMAGE_STD
from wilor_ros.opencv_warp_torch import gaussian_kernel


@functools.lru_cache(maxsize=None)
def _normalisation_tables():
    """
    Normalised value of every grey level per RGB channel: (3, 256) float32, read-only.

    The official code normalises float32 pixels in float64 and casts the result to float32;
    a table of the 256 levels holds exactly those numbers.
    """
    levels = np.arange(256, dtype=np.float64)
    mean = 255 * np.array(IMAGE_MEAN, dtype=np.float64)[:, None]
    std = 255 * np.array(IMAGE_STD, dtype=np.float64)[:, None]
    tables = ((levels[None] - mean) / std).astype(np.float32)
    tables.setflags(write=False)
    return tables


def _sharp_crop_opencv(source, matrix, crop_size, planes):
    """Warp the uint8 ``source`` like the official code; normalise into ``planes`` (3, S, S)."""
    crop = cv2.warpAffine(source, matrix, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    tables = _normalisation_tables()
    for channel, plane in enumerate(cv2.split(crop)):
        # BGR channel c is RGB channel 2 - c; the lookup writes into the batch in place.
        target = planes[2 - channel]
        written = cv2.LUT(plane, tables[2 - channel], dst=target)
        if written.ctypes.data != target.ctypes.data:
            target[...] = written


def _normalise_float_crop(values, planes):
    """
    Normalise a float (S, S, 3) BGR crop into ``planes`` (3, S, S) float32 RGB.

    As the official code: cast to float32, then ``(x - mean) / std`` in float64, cast back.
    """
    mean = 255 * np.array(IMAGE_MEAN, dtype=np.float64)
    std = 255 * np.array(IMAGE_STD, dtype=np.float64)
    scratch = np.empty(planes.shape[1:], dtype=np.float64)
    for channel, plane in enumerate(cv2.split(values.astype(np.float32))):
        rgb = 2 - channel
        np.subtract(plane, mean[rgb], out=scratch, dtype=np.float64)
        np.divide(scratch, std[rgb], out=planes[rgb], dtype=np.float64, casting='same_kind')


def _blurred_crop_opencv(source, matrix, sigma, crop_size):
    """
    Official blurred crop of the uint8 ``source``: (S, S, 3) float64 BGR, None if it reads 0.

    Only the window of pixels the warp reads is blurred, plus the kernel radius: the official
    whole-image blur (mode 'nearest' = ``BORDER_REPLICATE``) differs from it only within one
    radius of a window edge that is not a frame edge, and those pixels are never read. The
    blur runs in float32 (about 1e-5 grey levels from float64, 2x faster), the warp in
    float64 as the official one: OpenCV warps float64 images with 1/32-pixel fixed-point
    coordinates, float32 ones with float coordinates (up to grey levels apart).
    """
    height, width = source.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    last = crop_size - 1
    corners = inverse @ np.array([[0, last, 0, last], [0, 0, last, last], [1, 1, 1, 1]],
                                 dtype=np.float64)
    # Each position reads its floor pixel and the next one; one more each side for round-off.
    col_low, row_low = np.floor(corners.min(axis=1)).astype(np.int64) - 1
    col_high, row_high = np.floor(corners.max(axis=1)).astype(np.int64) + 2
    if col_high < 0 or row_high < 0 or col_low >= width or row_low >= height:
        return None
    weights, radius = gaussian_kernel(sigma)
    r0, r1 = max(int(row_low) - radius, 0), min(int(row_high) + radius + 1, height)
    c0, c1 = max(int(col_low) - radius, 0), min(int(col_high) + radius + 1, width)
    window = cv2.sepFilter2D(source[r0:r1, c0:c1], cv2.CV_32F, weights, weights,
                             borderType=cv2.BORDER_REPLICATE)
    inverse[0, 2] -= c0
    inverse[1, 2] -= r0
    return cv2.warpAffine(window.astype(np.float64), inverse, (crop_size, crop_size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crops_opencv(frame, center, size, right, crop_size):
    """
    Crops of a uint8 (H, W, 3) BGR numpy frame with OpenCV, as the official code cuts them.

    The CPU path of :func:`crop_hands`. ``center`` (B, 2) and ``size`` (B,) from
    :func:`crop_geometry`, ``right`` (B,) 1 for right hands. Returns a (B, 3, S, S) float32
    CPU tensor, RGB, normalised. The frame is only read (a read-only array is fine).
    """
    width = frame.shape[1]
    sigma = blur_sigma(size, crop_size)
    img = torch.empty((len(size), 3, crop_size, crop_size), dtype=torch.float32)
    planes = img.numpy()
    mirrored = None
    for n in range(len(size)):
        flip = bool(right[n] < 0.5)
        if flip and mirrored is None:
            # The official code mirrors the image once per left hand; once per frame will do.
            mirrored = cv2.flip(frame, 1)
        source = mirrored if flip else frame
        matrix = crop_matrix(center[n], size[n], flip, width, crop_size)
        if sigma[n] == 0:
            _sharp_crop_opencv(source, matrix, crop_size, planes[n])
            continue
        values = _blurred_crop_opencv(source, matrix, sigma[n], crop_size)
        if values is None:
            values = np.zeros((crop_size, crop_size, 3))
        _normalise_float_crop(values, planes[n])
    return img
