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
The stages of :class:`~wilor_ros.pipeline.HandPipeline`'s batch, as data and small functions.

A batch goes through three stages, so that :meth:`~wilor_ros.pipeline.HandPipeline.
process_stream` can interleave two batches: *start* (upload and queue the detector:
:class:`DetectedBatch`), *launch* (wait 1 for the detections, plan and queue the crops and the
reconstructor: :class:`LaunchedBatch`) and *collect* (wait 2 for all results, build the
HandResults of each frame: :func:`frame_hand_results`). :func:`run_overlapped` is the order in
which a stream of batches runs those stages.
"""

import dataclasses
from typing import Any, List, Optional

import numpy as np
import torch

from wilor_ros.depth_fusion import fuse_hands
from wilor_ros.finite import split_finite
from wilor_ros.frame_hands import FrameHands
from wilor_ros.postprocess import hand_results_from_host
from wilor_ros.transfers import to_host


@dataclasses.dataclass
class DetectedBatch:
    """A batch whose detection is queued: frames on the device, the table (or its copy)."""

    frames: List[torch.Tensor]
    table: Optional[torch.Tensor]
    event: Any  # torch.cuda.Event when the table is being copied on the side stream
    camera_matrices: list
    depths: list
    sides: list


@dataclasses.dataclass
class LaunchedBatch:
    """A batch whose reconstruction is queued: what the collect stage needs."""

    batch: List[FrameHands]
    counts: List[int]
    compute_vertices: bool
    outputs: Optional[torch.Tensor] = None
    layout: Optional[list] = None


def detection_table(detector, images, conf, iou, max_det):
    """Queue the detector for all frames: one (N, T, 7 + K) device table, or None if none."""
    if not len(images):
        return None
    found = detector.detect_batch(images, conf=conf, iou=iou, max_det=max_det)
    # One table: valid, box, score, side, keypoint confidences.
    return torch.cat((found['valid'][..., None].float(), found['boxes'].float(),
                      found['scores'][..., None].float(), found['is_right'][..., None].float(),
                      found['keypoints'][..., 2].float()), dim=-1)


def split_table(table):
    """One dict of numpy arrays per frame from the (N, T, 7 + K) detections table (one copy)."""
    if table is None:
        return []
    detections = []
    for rows in to_host(table):
        rows = rows[rows[:, 0] > 0.5]
        detections.append({'boxes': np.ascontiguousarray(rows[:, 1:5], dtype=np.float32),
                           'scores': rows[:, 5].astype(np.float32),
                           'is_right': rows[:, 6] > 0.5,
                           'keypoint_confidence': np.ascontiguousarray(rows[:, 7:],
                                                                       dtype=np.float32)})
    return detections


def plan_frames(detected, rescale_factor, crop_size):
    """
    Return the :class:`FrameHands` of each frame of a :class:`DetectedBatch` (wait 1).

    Brings the detections down (one copy) and lets each frame's ``sides`` callable decide
    the sides before the crops are planned.
    """
    batch = []
    for frame, found, camera_matrix, depth, choose_sides in zip(
            detected.frames, split_table(detected.table), detected.camera_matrices,
            detected.depths, detected.sides):
        is_right = found['is_right']
        if choose_sides is not None:
            is_right = np.asarray(choose_sides(found['boxes'], found['scores'], is_right),
                                  dtype=bool).reshape(is_right.shape)
        batch.append(FrameHands.of(frame, found['boxes'], found['scores'], is_right,
                                   found['keypoint_confidence'], rescale_factor, crop_size,
                                   camera_matrix, depth))
    return batch


def per_image(values, count, what):
    """Return ``values`` as a list of ``count`` entries (None: nothing for any image)."""
    if values is None:
        return [None] * count
    values = list(values)
    if len(values) != count:
        raise ValueError(f'{count} images but {len(values)} {what}')
    return values


def frame_hand_results(hands, outputs, intrinsics, faces, compute_vertices):
    """
    Return (HandResults, non-finite count) of one frame from its part of the host outputs.

    ``hands``: the frame's :class:`FrameHands`; ``faces``: the MANO triangles (needed only
    when the frame has a depth image). Hands with a non-finite number are dropped and
    counted.
    """
    # Non-finite hands are dropped once all is attached, so indices still line up.
    results = hand_results_from_host(outputs, hands.center, hands.size, hands.boxes,
                                     hands.scores, hands.is_right, intrinsics,
                                     compute_vertices or hands.depth is not None,
                                     drop_non_finite=False)
    if hands.keypoint_confidence is not None:
        results = [dataclasses.replace(hand, keypoint_confidence=confidence.copy())
                   for hand, confidence in zip(results, hands.keypoint_confidence)]
    if hands.depth is not None:
        results, _ = fuse_hands(results, hands.depth, intrinsics, np.asarray(faces))
        if not compute_vertices:
            results = [dataclasses.replace(hand, vertices=None) for hand in results]
    return split_finite(results)


def run_overlapped(batches, start, launch, collect):
    """
    Yield ``collect(launch(start(batch)))`` for each batch, batch t+1 started before t's wait.

    The host launches batch t's reconstruction, then starts batch t+1 (its detection), and
    only then collects batch t. An error of ``start`` belongs to the first batch not yielded:
    batch t's results come first, then the error is raised.
    """
    launched, batches = None, iter(batches)
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                break
            detected = start(batch)
        except Exception:
            if launched is not None:
                yield collect(launched)
            raise
        if launched is not None:
            yield collect(launched)
        launched = launch(detected)
    if launched is not None:
        yield collect(launched)
