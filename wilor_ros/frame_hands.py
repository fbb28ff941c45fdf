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
:class:`FrameHands`: one frame of a batch on its way through the pipeline.

What the detector found in a frame (or the boxes a caller gave), reduced to the hands that can
be cropped, with their crop geometry computed once: the crops and the camera translation both
use it. Also the checks of a frame's depth image.
"""

import dataclasses
from typing import Optional

import numpy as np
import torch

from wilor_ros.crop_geometry import crop_geometry
from wilor_ros.depth_fusion import depth_to_metres


@dataclasses.dataclass
class FrameHands:
    """
    One frame of a batch on its way through the pipeline: its hands and their crops' geometry.

    ``frame``: the uint8 (H, W, 3) BGR tensor on the pipeline's device; ``boxes`` (n, 4)
    float32, ``scores`` (n,), ``is_right`` (n,) bool, ``keypoint_confidence`` (n, 21) or None:
    the hands to reconstruct (boxes with an area, in the detector's order); ``center`` (n, 2)
    and ``size`` (n,): their crops (:func:`wilor_ros.crops.crop_geometry`, computed once here
    and used by the crops and by the camera translation); ``camera_matrix`` (3x3 K or None)
    and ``depth`` (metres, or None): how the hands are placed.
    """

    frame: torch.Tensor
    boxes: np.ndarray
    scores: np.ndarray
    is_right: np.ndarray
    keypoint_confidence: Optional[np.ndarray]
    center: np.ndarray
    size: np.ndarray
    camera_matrix: Optional[np.ndarray] = None
    depth: Optional[np.ndarray] = None

    @classmethod
    def of(cls, frame, boxes, scores, is_right, keypoint_confidence, rescale_factor, crop_size,
           camera_matrix=None, depth=None):
        """Keep the boxes that can be cropped (clipped to nothing: skipped); plan their crops."""
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        keep = np.flatnonzero((width > 0) & (height > 0))
        boxes = np.ascontiguousarray(boxes[keep], dtype=np.float32)
        center, size = crop_geometry(boxes, rescale_factor, crop_size)
        return cls(frame=frame, boxes=boxes, scores=np.asarray(scores, np.float32)[keep],
                   is_right=np.asarray(is_right, bool)[keep],
                   keypoint_confidence=(None if keypoint_confidence is None
                                        else keypoint_confidence[keep]),
                   center=center, size=size, camera_matrix=camera_matrix, depth=depth)

    def __len__(self):
        """Return the number of hands to reconstruct."""
        return len(self.boxes)


def checked_depth(depth, image_shape, camera_matrix):
    """Return the depth image in metres (NaN = no data), or None; ValueError when unusable."""
    if depth is None:
        return None
    if camera_matrix is None:
        raise ValueError('a depth image needs the real camera matrix (camera_matrix=K): with '
                         "WiLoR's focal heuristic the hands are not metric, so fusing a depth "
                         'image with them is meaningless')
    return depth_to_metres(depth, image_shape)
