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

"""Reference greedy NMS in numpy (torchvision ``nms`` semantics), for the detector's tests."""

import numpy as np


def box_iou_greedy_keep(boxes, scores, iou_threshold, max_keep):
    """
    Greedy NMS (torchvision ``nms`` semantics) on the CPU; return kept indices by score.

    A box is dropped when its IoU with an already kept, higher-scoring box exceeds the
    threshold. Stops after ``max_keep`` boxes, which equals NMS followed by ``[:max_keep]``.
    """
    order = np.argsort(-scores, kind='stable')
    boxes = boxes[order]
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= max_keep:
            break
        rest = slice(i + 1, None)
        inter_w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        inter_h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = inter_w * inter_h
        with np.errstate(invalid='ignore'):
            # Zero-area boxes: 0 / 0 is NaN, never above the threshold (as in torchvision).
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)]
