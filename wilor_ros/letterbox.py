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
The detector's input: ultralytics' letterbox (resize, pad to a multiple of 32 with grey 114).

Two implementations give the same pixels: OpenCV for numpy frames on the host, and torch for
frames already on a device (bilinear taps computed once per size and cached on the device), so a
GPU frame is letterboxed where it lives. :func:`plan_letterbox` decides the geometry once.
"""

import dataclasses
import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

PAD_VALUE = 114


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """Geometry of one letterbox: resized size and padding in network-input pixels."""

    image_hw: tuple
    resized_hw: tuple
    top: int
    bottom: int
    left: int
    right: int

    @property
    def input_hw(self):
        """Size of the network input (resized image plus padding)."""
        return (self.resized_hw[0] + self.top + self.bottom,
                self.resized_hw[1] + self.left + self.right)


def plan_letterbox(image_hw, imgsz, stride=32):
    """
    Compute the ultralytics ``LetterBox(auto=True)`` geometry for an image size.

    ``imgsz`` is an int or (height, width). The scaled size uses Python ``round``; padding is
    the remainder modulo ``stride``, split with the ``round(d/2 -+ 0.1)`` rule ultralytics uses.
    A side is never scaled below 1 pixel: a legal but extreme image (4000 x 2) would otherwise
    round to a height of 0, which no resize accepts (ultralytics fails there).
    """
    h, w = image_hw
    new_h, new_w = (imgsz, imgsz) if np.isscalar(imgsz) else imgsz
    ratio = min(new_h / h, new_w / w)
    resized_w, resized_h = max(1, int(round(w * ratio))), max(1, int(round(h * ratio)))
    dw = float(np.mod(new_w - resized_w, stride)) / 2
    dh = float(np.mod(new_h - resized_h, stride)) / 2
    return Letterbox(image_hw=(h, w), resized_hw=(resized_h, resized_w),
                     top=int(round(dh - 0.1)), bottom=int(round(dh + 0.1)),
                     left=int(round(dw - 0.1)), right=int(round(dw + 0.1)))


def letterbox_numpy(image_bgr, box):
    """Letterbox a uint8 HxWx3 BGR numpy image with OpenCV; return (1, 3, H, W) RGB float /255."""
    h, w = box.resized_hw
    if tuple(image_bgr.shape[:2]) == (1, 1):
        # Any interpolation of one pixel is that pixel everywhere. OpenCV 4.5.4 (Ubuntu 22.04's
        # python3-opencv, ROS 2 Humble) rejects a 1x1 three-channel array in cv2.resize
        # ("_step >= minstep"), so it is not asked.
        image_bgr = np.full((h, w, image_bgr.shape[2]), image_bgr[0, 0], dtype=image_bgr.dtype)
    elif tuple(image_bgr.shape[:2]) != (h, w):
        image_bgr = cv2.resize(image_bgr, (w, h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(image_bgr, box.top, box.bottom, box.left, box.right,
                                cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    rgb = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))
    return torch.from_numpy(rgb).unsqueeze(0).float().div_(255.0)


def _linear_taps(src_size, dst_size, device, clamp_fraction):
    # OpenCV's fixed-point bilinear: half-pixel source position computed in float32 from the
    # inverse scale, weights quantised to 2048ths. Horizontally OpenCV zeroes the fraction at
    # the borders; vertically it keeps the fraction and clamps the row index instead.
    scale = 1.0 / (dst_size / src_size)
    pos = ((torch.arange(dst_size, dtype=torch.float64, device=device) + 0.5) * scale - 0.5)
    pos = pos.float()
    first = torch.floor(pos)
    frac = pos - first
    first = first.long()
    if clamp_fraction:
        frac = torch.where(first < 0, torch.zeros_like(frac), frac)
        first = first.clamp(min=0)
        last = first >= src_size - 1
        frac = torch.where(last, torch.zeros_like(frac), frac)
        first = torch.where(last, torch.full_like(first, src_size - 1), first)
    second = (first + 1).clamp(0, src_size - 1)
    first = first.clamp(0, src_size - 1)
    w0 = torch.round((1.0 - frac) * 2048).int()
    return first, second, w0, 2048 - w0


@functools.lru_cache(maxsize=16)
def _cached_taps(src_size, dst_size, device, clamp_fraction):
    # Per image size and device: computed once, then the letterbox uploads nothing per frame.
    return _linear_taps(src_size, dst_size, device, clamp_fraction)


def resize_linear_uint8(image, height, width):
    """
    Resize a uint8 HxWxC (or NxHxWxC) tensor exactly like ``cv2.resize(INTER_LINEAR)``.

    Bit-exact with OpenCV's vectorised 8-bit path, so letterboxing on the GPU feeds the network
    the same pixels as the CPU path. A leading frame axis resizes a batch of same-size frames
    with the same number of kernels as one frame.
    """
    src_h, src_w = image.shape[-3:-1]
    ys0, ys1, b0, b1 = _cached_taps(src_h, height, image.device, clamp_fraction=False)
    xs0, xs1, a0, a1 = _cached_taps(src_w, width, image.device, clamp_fraction=True)
    img = image.int()

    def horizontal(rows):
        return rows[..., xs0, :] * a0[:, None] + rows[..., xs1, :] * a1[:, None]

    top, bottom = horizontal(img[..., ys0, :, :]), horizontal(img[..., ys1, :, :])
    b0, b1 = b0[:, None, None], b1[:, None, None]
    # The SIMD vertical pass rounds in these steps (not one >> 22); kept for bit-exactness.
    out = (((b0 * (top >> 4)) >> 16) + ((b1 * (bottom >> 4)) >> 16) + 2) >> 2
    return out.clamp_(0, 255).to(torch.uint8)


def letterbox_torch(image_bgr, box):
    """
    Letterbox a uint8 HxWx3 BGR tensor on its own device; return (1, 3, H, W) RGB float /255.

    A (N, H, W, 3) stack of frames of ``box.image_hw`` gives (N, 3, H, W) in one pass.
    """
    h, w = box.resized_hw
    batch = image_bgr if image_bgr.dim() == 4 else image_bgr.unsqueeze(0)
    if tuple(batch.shape[1:3]) != (h, w):
        batch = resize_linear_uint8(batch, h, w)
    nchw = batch.permute(0, 3, 1, 2).flip(1)
    nchw = F.pad(nchw, (box.left, box.right, box.top, box.bottom), value=PAD_VALUE)
    # The pad keeps the permuted (channels-last) strides, and convolutions over a channels-last
    # input take other algorithms (other roundings): the network gets the contiguous layout of
    # the OpenCV path, written by the same copy that converts to float.
    out = torch.empty(nchw.shape, dtype=torch.float32, device=nchw.device)
    return out.copy_(nchw).div_(255.0)
