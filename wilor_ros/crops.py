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
Hand crops for the WiLoR reconstructor, as the official ``ViTDetDataset`` cuts them.

The official dataset (WiLoR commit 819369a) takes each detector box, squares it to a side
``b = rescale_factor * max(box_h, 4/3 box_w)`` around the box centre, blurs the **whole** image
when the crop shrinks it more than 2.2x, mirrors the image for left hands and warps the square
to 256x256 with ``cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)``; then RGB, normalised
with the ImageNet mean/std.

The small per-hand geometry is computed on the host with the same float32/float64 steps as
the official code. The pixel work has two implementations, chosen by where the frame is:

* Frame on the CPU (ROS image messages, numpy images): OpenCV itself, called as the official
  code calls it. Sharp crops are ``cv2.warpAffine`` of the uint8 frame with the official
  matrix (left hands from one mirrored copy of the frame, made only when there is a left
  hand), i.e. OpenCV's own results; the normalisation is a 256-entry table per channel (an
  8-bit crop has 256 values per channel), written straight into the batch tensor. A blurred
  crop blurs only the window of the frame its warp reads (``cv2.sepFilter2D``, float32) and
  warps it in float64 like the official float64 image. Why not torch here: gathering and
  interpolating every tap in float64 costs 2-3 ms per hand on the CPU, OpenCV about 0.4 ms.
* Frame on a GPU: batched torch on the frame's device, so the frame is uploaded once and no
  pixel comes back to the host. Left hands mirror the sampling coordinates instead of the
  image. Sharp crops reproduce OpenCV 5's 8-bit warpAffine arithmetic (one gather for all
  hands of all frames, :mod:`wilor_ros.opencv_warp_torch`); blurred crops (blur and warp
  composed into two matrix products with static shapes) follow its float64 path
  (:mod:`wilor_ros.blurred_crops`).

The sharp crops of both paths are the same to the last bit (OpenCV >= 4.11; the parity
fixture's crops exactly). Blurred crops differ from the official float64 whole-image blur
by float32 rounding only, below 1e-3 grey levels (``test/test_crops.py``).
"""

import functools

import cv2
import numpy as np
import torch

from wilor_ros.blurred_crops import (cut_blurred_crops, padded_count, plan_blurred_crop,
                                     weights_width)
from wilor_ros.camera import CROP_SIZE
# crop_geometry and blur_sigma are part of this module's API (crop_hands' geometry).
from wilor_ros.crop_geometry import (blur_sigma, crop_geometry, crop_matrix,  # noqa: F401
                                     IMAGE_MEAN, IMAGE_STD)
from wilor_ros.crops_opencv import crops_opencv
from wilor_ros.opencv_warp_torch import flat_row_taps, sample_taps, sampling_plan
from wilor_ros.transfers import host_array, upload


# --------------------------------------------------------------------------------------------
# Frames on a GPU: batched torch on the frame's device, OpenCV's arithmetic reproduced
# --------------------------------------------------------------------------------------------

def _affine_inverse(center, size, flip, width, crop_size):
    """
    Inverse (crop px -> source px) 2x3 of the official crop matrix, as ``cv2.warpAffine`` has it.

    The inverse comes from ``cv2.invertAffineTransform`` itself (a few microseconds on the
    host): the sampling positions are float32 casts of these doubles, and an exactly derived
    inverse can fall on the other side of a float32 rounding tie. The matrix is axis-aligned
    up to float64 round-off in the off-diagonal terms.
    """
    return cv2.invertAffineTransform(crop_matrix(center, size, flip, width, crop_size))


@functools.lru_cache(maxsize=8)
def _normalisation_constants(device):
    """Return the ImageNet mean and std x 255 (float64) on ``device``, uploaded once."""
    mean = torch.tensor(IMAGE_MEAN, dtype=torch.float64, device=device) * 255
    std = torch.tensor(IMAGE_STD, dtype=torch.float64, device=device) * 255
    return mean, std


class _PackedPlan:
    """Host arrays packed into one float64 buffer, so that all of a batch's plans go up at once."""

    def __init__(self):
        self.parts, self.layout, self.size = [], [], 0

    def add(self, array):
        array = np.ascontiguousarray(array, dtype=np.float64)
        self.parts.append(array.reshape(-1))
        self.layout.append((self.size, array.shape))
        self.size += array.size
        return len(self.layout) - 1

    def upload(self, device):
        flat = upload(np.concatenate(self.parts) if self.parts else np.zeros(0), device)
        return [flat[start:start + int(np.prod(shape))].view(shape)
                for start, shape in self.layout]


def plan_crops(center, size, right, image_hw, crop_size=CROP_SIZE, frame_index=None):
    """
    Host half of the device crop path: every crop's sampling plan, packed for one upload.

    ``image_hw``: (H, W) of the one frame, or a list of (H, W), one per frame, with
    ``frame_index`` (B,) naming each hand's frame: the hands of all frames of a batch are
    planned together and cut in one gather from the frames' pixels laid end to end (see
    :func:`cut_crops`). Planning stays on the host on purpose: the plans are float32 casts of
    ``cv2.invertAffineTransform(cv2.getAffineTransform(...))``, whose LU solve a device
    re-derivation would not reproduce to the last bit (see :func:`_affine_inverse`), and the
    crops must equal OpenCV's. The plans go up in one asynchronous copy from pinned memory.
    Returns a dict for :func:`cut_crops`.
    """
    count = len(size)
    if frame_index is None:
        frame_hws, frame_index = [tuple(image_hw)], np.zeros(count, dtype=np.int64)
    else:
        frame_hws, frame_index = [tuple(hw) for hw in image_hw], np.asarray(frame_index)
    # Where each frame's pixels start once the frames are flattened and concatenated.
    first_pixel = np.cumsum([0] + [h * w for h, w in frame_hws])[:-1]
    sigma = blur_sigma(size, crop_size)
    flips = np.asarray(right) < 0.5
    inverses = [_affine_inverse(center[n], size[n], flips[n], frame_hws[frame_index[n]][1],
                                crop_size)
                for n in range(count)]
    packed = _PackedPlan()
    sharp = np.flatnonzero(sigma == 0)
    plan = {'count': count, 'crop_size': crop_size, 'sharp': sharp, 'packed': packed}
    if len(sharp):
        plans = np.stack([sampling_plan(inverses[n], flips[n], frame_hws[frame_index[n]],
                                        crop_size) for n in sharp])
        plan['all_inside'] = bool(plans[:, [2, 3, 6, 7]].min() > 0.5)
        widths = np.array([frame_hws[frame_index[n]][1] for n in sharp], dtype=np.float64)
        flat_row_taps(plans, widths[:, None, None], first_pixel[frame_index[sharp]][:, None,
                                                                                    None])
        plan['sharp_plans'] = packed.add(plans)
        if 0 < len(sharp) < count:
            plan['sharp_index'] = packed.add(sharp)
    plan['blurred'] = [_plan_blurred_group(packed, hands, inverses, flips, sigma, frame_index,
                                           frame_hws, crop_size)
                       for hands in _blurred_groups(sigma, frame_index, frame_hws)]
    return plan


def _blurred_groups(sigma, frame_index, frame_hws):
    """Group the blurred crops by their frame's size: one static computation per size."""
    blurred = np.flatnonzero(sigma > 0)
    sizes = [frame_hws[frame_index[n]] for n in blurred]
    return [blurred[[size == hw for size in sizes]] for hw in dict.fromkeys(sizes)]


def _plan_blurred_group(packed, hands, inverses, flips, sigma, frame_index, frame_hws,
                        crop_size):
    """
    Pack the plans of the blurred crops ``hands`` of frames of one size, padded to a bucket.

    The padding crops have all weights 0 (they come out black) and are written to a scratch
    row, so the device work has the same shapes for 3 or 4 blurred hands, wherever they are
    (see :mod:`wilor_ros.blurred_crops`).
    """
    image_hw = frame_hws[frame_index[hands[0]]]
    # Every frame of that size, whether it has a blurred hand or not: a static stack.
    frames = [index for index, hw in enumerate(frame_hws) if hw == image_hw]
    width = weights_width(image_hw, crop_size, sigma[hands])
    count = padded_count(len(hands))
    rows = np.zeros((count, crop_size, 1 + width))
    columns = np.zeros((count, 2, crop_size, 1 + width))
    grid = np.zeros((count, crop_size))
    for slot, n in enumerate(hands):
        rows[slot], columns[slot], grid[slot] = plan_blurred_crop(
            inverses[n], flips[n], image_hw, sigma[n], crop_size, width)
    # Padding crops read the group's first frame and go to the scratch row (index count).
    local_frame = np.zeros(count)
    local_frame[:len(hands)] = [frames.index(index) for index in frame_index[hands]]
    target = np.full(count, -1.0)
    target[:len(hands)] = hands
    return {'frames': frames, 'rows': packed.add(rows), 'columns': packed.add(columns),
            'grid': packed.add(grid), 'frame_index': packed.add(local_frame),
            'target': packed.add(target)}


def cut_crops(frames, plan):
    """
    Device half of the device crop path: (B, 3, S, S) float32 RGB normalised crops.

    ``frames``: the uint8 (H, W, 3) frame tensor, or the list of frames ``plan`` was made for
    (:func:`plan_crops`); one upload of the packed plans, one gather of every sharp crop of
    every frame, then batched torch on the frames' device with OpenCV's arithmetic. Nothing
    is read back on the host.
    """
    frames = [frames] if isinstance(frames, torch.Tensor) else list(frames)
    device = frames[0].device
    count, crop_size = plan['count'], plan['crop_size']
    uploaded = plan['packed'].upload(device)
    values = None
    if len(plan['sharp']) < count:
        # One scratch row past the end takes the padding crops of the blurred groups.
        values = torch.zeros((count + 1, crop_size, crop_size, 3), dtype=torch.float64,
                             device=device)
    if len(plan['sharp']):
        pixels = torch.cat([frame.reshape(-1, 3) for frame in frames]) if len(frames) > 1 \
            else frames[0].reshape(-1, 3)
        crops = sample_taps(pixels, uploaded[plan['sharp_plans']], round_to_uint8=True,
                            all_inside=plan['all_inside'])
        if values is None:
            values = crops
        else:
            values = values.index_copy(0, uploaded[plan['sharp_index']].long(),
                                       crops.double())
    for group in plan['blurred']:
        group_frames = torch.stack([frames[index] for index in group['frames']])
        crops = cut_blurred_crops(group_frames, uploaded[group['frame_index']],
                                  uploaded[group['rows']], uploaded[group['columns']],
                                  uploaded[group['grid']])
        # Padding crops (target -1) land on the scratch row.
        target = uploaded[group['target']].long().remainder(count + 1)
        values = values.index_copy(0, target, crops)
    values = values[:count]
    # BGR -> RGB, HWC -> CHW; normalised in float64 then cast, as the official numpy code.
    mean, std = _normalisation_constants(device)
    img = ((values.flip(-1).double() - mean) / std).float()
    return img.permute(0, 3, 1, 2).contiguous()


def _crops_torch(frame, center, size, right, crop_size):
    """
    Crops of a uint8 (H, W, 3) BGR frame tensor, batched in torch on the frame's device.

    The GPU path of :func:`crop_hands` (it runs on the CPU too, only more slowly); arguments
    as :func:`_crops_opencv`. Returns (B, 3, S, S) float32, RGB, normalised, on the frame's
    device.
    """
    return cut_crops(frame, plan_crops(center, size, right, frame.shape[:2], crop_size))


def cut_hand_crops(frames, frame_index, center, size, right, crop_size=CROP_SIZE):
    """
    Cut the crops of the hands of several frames, by the path that suits where they are.

    The one crop dispatcher (the pipeline and :func:`crop_hands` both use it). ``frames``:
    uint8 (H, W, 3) BGR tensors, all on one device; ``frame_index`` (B,): each hand's frame;
    ``center``, ``size`` (from :func:`crop_geometry`) and ``right`` (B,), host arrays.
    Frames on the CPU are cut by OpenCV as the official code cuts them (fastest there);
    frames on a GPU by one plan upload and one batched gather for all hands of all frames.
    Returns (B, 3, S, S) float32 RGB normalised crops on the frames' device, in hand order.
    """
    frame_index = np.asarray(frame_index, dtype=np.int64).reshape(-1)
    count = len(frame_index)
    device = frames[0].device if len(frames) else torch.device('cpu')
    if count == 0:
        return torch.zeros((0, 3, crop_size, crop_size), device=device)
    right = np.asarray(right, dtype=np.float32).reshape(-1)
    if device.type != 'cpu':
        return cut_crops(frames, plan_crops(center, size, right,
                                            [tuple(frame.shape[:2]) for frame in frames],
                                            crop_size, frame_index))
    crops = torch.empty((count, 3, crop_size, crop_size), dtype=torch.float32)
    for index in np.unique(frame_index):
        hands = np.flatnonzero(frame_index == index)
        crops[hands] = crops_opencv(np.ascontiguousarray(frames[index].numpy()),
                                    center[hands], size[hands], right[hands], crop_size)
    return crops


def frame_to_tensor(image_bgr, device=None):
    """
    Return a uint8 (H, W, 3) BGR image as a torch tensor on ``device`` (one upload).

    A numpy frame goes to a GPU in one asynchronous copy (:func:`wilor_ros.transfers.upload`).
    """
    if isinstance(image_bgr, torch.Tensor):
        frame = image_bgr if device is None else image_bgr.to(device)
        if frame.dtype != torch.uint8:
            raise ValueError(f'expected a uint8 HxWx3 BGR image, got a {frame.dtype} tensor')
    else:
        array = np.asarray(image_bgr)
        if array.dtype != np.uint8:
            raise ValueError(f'expected a uint8 HxWx3 BGR image, got dtype {array.dtype}')
        frame = upload(array, 'cpu' if device is None else device)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f'expected a uint8 HxWx3 BGR image, got shape {tuple(frame.shape)}')
    return frame


def crop_hands(image_bgr, boxes, is_right, rescale_factor=2.0, device=None,
               crop_size=CROP_SIZE):
    """
    Cut the WiLoR input crops of all hands of one frame in one batch.

    ``image_bgr``: uint8 (H, W, 3) BGR image, numpy or a torch tensor (used on its device);
    ``boxes``: (B, 4) x1, y1, x2, y2 pixels (unrounded detector boxes); ``is_right``: (B,)
    1/True for right hands (left hands are cut from the mirrored image); ``rescale_factor``:
    box enlargement (official demo: 2.0); ``device``: torch device of the outputs (default:
    the image tensor's, else the CPU).

    Returns a dict of tensors on the device: ``img`` (B, 3, S, S) float32 RGB normalised with
    the ImageNet mean/std (S = 256), ``box_center`` (B, 2) float32, ``box_size`` (B,)
    float32, ``img_size`` (B, 2) float32 (W, H), ``right`` (B,) float32. The pixels are cut
    with OpenCV when the frame is on the CPU, in torch on the frame's device otherwise (see
    the module docstring); a read-only numpy frame is read in place.
    """
    frame = frame_to_tensor(image_bgr, device)
    device = frame.device
    height, width = frame.shape[:2]
    boxes = host_array(boxes, np.float32).reshape(-1, 4)
    right = host_array(is_right, np.float32).reshape(-1)
    if right.shape[0] != boxes.shape[0]:
        raise ValueError(f'{boxes.shape[0]} boxes but {right.shape[0]} is_right flags')
    count = boxes.shape[0]
    center, size = crop_geometry(boxes, rescale_factor, crop_size)
    geometry = np.concatenate((center, size[:, None], np.tile(
        np.float32([width, height]), (count, 1)), right[:, None]), axis=1).astype(np.float32)
    geometry = upload(geometry, device)
    out = {'box_center': geometry[:, 0:2], 'box_size': geometry[:, 2],
           'img_size': geometry[:, 3:5], 'right': geometry[:, 5]}
    if count == 0:
        out['img'] = torch.zeros((0, 3, crop_size, crop_size), device=device)
        return out
    out['img'] = cut_hand_crops([frame], np.zeros(count, np.int64), center, size, right,
                                crop_size)
    return out
