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
Ultralytics' ``non_max_suppression`` for YOLOv8-pose, fixed-size and batched over frames.

The detector's NMS in a form a CUDA graph can hold: no host read, no data-dependent shape, a
fixed number of greedy steps (the table size) whatever the number of frames, with the same
decisions as torchvision's ``nms`` followed by ``[:max_det]`` (class-aware by offsetting
boxes, the 30000-candidate cap, stable tie order). The thresholds may be 0-d device tensors,
so changing them changes no compiled graph.
"""

import torch
import torch.nn.functional as F

# ultralytics non_max_suppression: per-class box offset (px) and candidate cap before NMS.
CLASS_OFFSET = 7680.0
MAX_NMS_CANDIDATES = 30000


def greedy_nms_fixed(boxes, scores, iou_threshold, steps, early_exit=False):
    """
    Greedy NMS on the boxes' device with a fixed-size result: (index (N, steps), valid).

    ``boxes`` (N, A, 4) x1, y1, x2, y2 and ``scores`` (N, A), -inf where a box is no candidate
    (or (A, 4) and (A,) for one frame, giving (steps,) results). Each step keeps, in every
    frame at once, the highest-scoring remaining box (the first on ties, as a stable sort) and
    removes every box whose IoU with it exceeds ``iou_threshold`` (a number or a 0-d tensor):
    torchvision ``nms`` followed by ``[:steps]``, decision for decision (IoU computed in the
    same order of operations). Exactly ``steps`` steps, no host synchronisation and no
    data-dependent shape, so it can be captured in a CUDA graph; ``valid`` marks the steps that
    found a box (a prefix per frame; the index is 0 elsewhere). ``early_exit`` stops once no
    frame has a box left, reading a value on the host: only for CPU tensors, where that costs
    nothing (the result then has fewer columns).
    """
    single = scores.dim() == 1
    if single:
        boxes, scores = boxes[None], scores[None]
    x1, y1, x2, y2 = boxes.unbind(-1)
    # One gather per step fetches the kept box and its area; storing -x1, -y1 turns the two
    # overlap corners into one minimum: min(x2, x2') + min(-x1, -x1') = min(x2, x2') - max(x1,
    # x1') exactly (negation is exact). 12 kernels per step, all frames at once (before: 23 per
    # step and frame, counted on test/gpu_tracer.py's simulated GPU); a precomputed IoU matrix
    # would cost 4 per step but A x A memory (8400^2 floats per frame at 640 px), and over a
    # top-k of candidates it is not exact once more than k boxes are suppressed.
    packed = torch.stack((x2, y2, -x1, -y1, (x2 - x1) * (y2 - y1)), -1)
    corners, areas = packed[..., :4], packed[..., 4]
    remaining = scores.clone()
    picked, values = [], []
    for _ in range(steps):
        value, best = remaining.max(1, keepdim=True)
        chosen = packed.gather(1, best[..., None].expand(-1, -1, 5))
        overlap = torch.minimum(corners, chosen[..., :4])
        sides = (overlap[..., :2] + overlap[..., 2:]).clamp_(min=0)
        inter = sides.prod(-1)
        # torchvision's order: inter / (area_kept + area - inter).
        iou = inter / ((chosen[..., 4] + areas) - inter)
        remaining.masked_fill_(iou > iou_threshold, float('-inf'))
        # The kept box itself (its IoU is NaN when its area is 0, or <= a threshold >= 1).
        remaining.scatter_(1, best, float('-inf'))
        picked.append(best)
        values.append(value)
        if early_exit and not bool(value.max() > float('-inf')):
            break
    if not picked:
        empty = scores.new_zeros((scores.shape[0], 0))
        index, valid = empty.long(), empty.bool()
    else:
        index, valid = torch.cat(picked, 1), torch.cat(values, 1) > float('-inf')
        index = torch.where(valid, index, 0)
    return (index[0], valid[0]) if single else (index, valid)


def non_max_suppression_fixed(raw, num_classes, conf=0.25, iou=0.7, max_det=300,
                              table_size=None):
    """
    Ultralytics ``non_max_suppression``, batched, fixed-size and on the device.

    ``raw`` is the decoded (N, 4 + nc + nk, A) output (or (4 + nc + nk, A) for one image).
    Returns (rows (N, T, 6 + nk), valid (N, T) bool): x1, y1, x2, y2, score, class, keypoint
    values (letterbox px) sorted by descending score; rows past each frame's valid prefix are
    zero. ``conf``, ``iou`` and ``max_det`` may be numbers or 0-d tensors on ``raw``'s device
    (a compiled graph then does not depend on their values); ``T`` = ``table_size`` (default
    ``max_det``, which must then be a number) is the number of NMS steps and rows; rows at or
    past ``max_det`` are invalid. Nothing is read on the host when ``raw`` lives on a GPU.
    """
    single = raw.dim() == 2
    if single:
        raw = raw[None]
    table = int(max_det) if table_size is None else int(table_size)
    pred = raw.transpose(1, 2)
    score, cls = pred[..., 4:4 + num_classes].max(-1)
    if pred.shape[1] > MAX_NMS_CANDIDATES:
        # ultralytics keeps the best MAX_NMS_CANDIDATES candidates; a top-k of the same size
        # keeps the shape static (non-candidates are removed by the threshold below).
        top = score.topk(MAX_NMS_CANDIDATES, dim=1).indices.sort(dim=1).values
        pred = pred.gather(1, top[..., None].expand(-1, -1, pred.shape[2]))
        score, cls = score.gather(1, top), cls.gather(1, top)
    cx, cy, w, h = pred[..., :4].unbind(-1)
    boxes = torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), -1)
    classes = cls.float()
    rows = torch.cat((boxes, score[..., None], classes[..., None], pred[..., 4 + num_classes:]),
                     -1)
    candidate_scores = score.masked_fill(score <= conf, float('-inf'))
    # Boxes of different classes never overlap once shifted by class * 7680 px.
    shifted = boxes + classes[..., None] * CLASS_OFFSET
    # Stopping early reads a value on the host: free on the CPU, never on a GPU or in a graph.
    early_exit = raw.device.type == 'cpu' and not torch.compiler.is_compiling()
    steps = min(table, int(max_det)) if early_exit else table
    index, valid = greedy_nms_fixed(shifted, candidate_scores, iou, steps, early_exit)
    if index.shape[1] < table:
        index = F.pad(index, (0, table - index.shape[1]))
        valid = F.pad(valid, (0, table - valid.shape[1]))
    # max_det as a mask over the table: a 0-d tensor, so a new value is no new graph.
    valid = valid & (torch.arange(table, device=raw.device) < max_det)
    kept = rows.gather(1, index[..., None].expand(-1, -1, rows.shape[2]))
    rows = torch.where(valid[..., None], kept, 0.0)
    return (rows[0], valid[0]) if single else (rows, valid)


def non_max_suppression(raw, num_classes, conf=0.25, iou=0.7, max_det=300):
    """
    Ultralytics ``non_max_suppression`` for one image (best class per box, class-aware).

    ``raw`` is (4 + nc + nk, A) decoded output. Returns (N, 6 + nk): x1, y1, x2, y2, score,
    class, keypoint values, letterbox px, sorted by descending score. The variable-size form
    of :func:`non_max_suppression_fixed` (reading N synchronises with a GPU).
    """
    rows, valid = non_max_suppression_fixed(raw, num_classes, conf, iou, max_det)
    return rows[:int(valid.sum())]
