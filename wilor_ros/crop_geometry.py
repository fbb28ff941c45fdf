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
The geometry of the official hand crops (``ViTDetDataset``, WiLoR commit 819369a).

Each detector box becomes a square of side ``b = rescale_factor * max(box_h, 4/3 box_w)``
around the box centre; a crop that shrinks the image more than 2.2x is blurred first; left
hands are cut from the mirrored image. Both crop paths (:mod:`wilor_ros.crops_opencv` on the
CPU, :mod:`wilor_ros.crops` on a device) and the camera translation use these numbers.
"""

import cv2
import numpy as np

from wilor_ros.camera import CROP_SIZE

# ViTDetDataset: BBOX_SHAPE (width, height) of the ViT input the square crop is fitted to.
BBOX_SHAPE = (192, 256)
# ImageNet statistics (RGB) of the official DEFAULT_MEAN / DEFAULT_STD, times 255.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
# The official crop blurs when b / 256 / 2 exceeds this (i.e. b > 563.2 px).
BLUR_DOWNSAMPLING = 1.1


def crop_geometry(boxes, rescale_factor=2.0, crop_size=CROP_SIZE):
    """
    Box centres and square crop sides, bit-exact with the official ``ViTDetDataset``.

    ``boxes`` (B, 4) x1, y1, x2, y2 pixels. Returns (center (B, 2) float32, size (B,) float32).
    The float32 rounding steps of the official numpy code are kept on purpose: the crop size
    enters the camera translation, and the parity fixtures compare it exactly.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    center = (boxes[:, 2:4] + boxes[:, 0:2]) / np.float32(2.0)
    scale = np.float32(rescale_factor) * (boxes[:, 2:4] - boxes[:, 0:2]) / np.float32(200.0)
    wh = scale * np.float32(200.0)
    w, h = wh[:, 0], wh[:, 1]
    if not (np.all(np.isfinite(wh)) and np.all(wh > 0)):
        raise ValueError(f'hand boxes must have positive finite width and height, got {boxes}')
    # expand_to_aspect_ratio((w, h), BBOX_SHAPE).max(), both branches vectorised.
    w_t, h_t = (np.float32(v) for v in BBOX_SHAPE)
    too_wide = h / w < np.float32(BBOX_SHAPE[1] / BBOX_SHAPE[0])
    wide_h = np.maximum(w * h_t / w_t, h)
    tall_w = np.maximum(h * w_t / h_t, w)
    size = np.where(too_wide, np.maximum(w, wide_h), np.maximum(tall_w, h))
    return center.astype(np.float32), size.astype(np.float32)


def blur_sigma(size, crop_size=CROP_SIZE):
    """Gaussian sigma of the official anti-aliasing blur for crop sides ``size`` (0 = none)."""
    factor = np.asarray(size, dtype=np.float32) * np.float32(1.0) / np.float32(crop_size)
    factor = factor / np.float32(2.0)
    return np.where(factor > np.float32(BLUR_DOWNSAMPLING),
                    (factor - np.float32(1)) / np.float32(2), np.float32(0))


def crop_matrix(center, size, flip, width, crop_size):
    """
    Official 2x3 crop matrix (source px -> crop px), from ``cv2.getAffineTransform``.

    The official source points are float32 (centre; centre + b/2 down; centre + b/2 right),
    for left hands after mirroring the centre in float32 (``W - cx - 1``), i.e. for left
    hands this is the matrix of the mirrored image.
    """
    cx, cy = np.float32(center[0]), np.float32(center[1])
    if flip:
        cx = np.float32(np.float32(width) - cx) - np.float32(1)
    half = np.float32(np.float32(size) * np.float32(0.5))
    src = np.array([[cx, cy], [cx, cy + half], [cx + half, cy]], dtype=np.float32)
    half_dst = crop_size / 2.0
    dst = np.array([[half_dst, half_dst], [half_dst, crop_size], [crop_size, half_dst]],
                   dtype=np.float32)
    return cv2.getAffineTransform(src, dst)
