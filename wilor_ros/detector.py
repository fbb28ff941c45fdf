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
Hand detector: WiLoR's ``detector.pt`` (YOLOv8-pose) with the ultralytics predict path.

Reproduces ultralytics 8.1 ``YOLO(...).predict`` for this model: letterbox to the training
image size (pad to a multiple of 32 with grey 114), BGR -> RGB, /255; the fused network; class
confidence filter; class-aware greedy NMS; boxes and keypoints mapped back to the original
image and clipped. Unlike ultralytics, boxes are not rounded to integers and keypoints with low
visibility are not zeroed. The checkpoint is read without ultralytics, dill or pickle code
execution (see :mod:`wilor_ros.models.checkpoint_io`).
"""

import numpy as np
import torch

from wilor_ros.letterbox import letterbox_numpy, letterbox_torch, plan_letterbox
from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint, module_state_dict
from wilor_ros.models.yolo_pose import build_yolo_pose

# ultralytics non_max_suppression: per-class box offset (px) and candidate cap before NMS.
CLASS_OFFSET = 7680.0
MAX_NMS_CANDIDATES = 30000

# Layer classes of yolov8-pose.yaml (ultralytics layers 0-22), checked before loading.
YOLOV8_POSE_LAYERS = (
    'Conv', 'Conv', 'C2f', 'Conv', 'C2f', 'Conv', 'C2f', 'Conv', 'C2f', 'SPPF',
    'Upsample', 'Concat', 'C2f', 'Upsample', 'Concat', 'C2f', 'Conv', 'Concat', 'C2f',
    'Conv', 'Concat', 'C2f', 'Pose',
)


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
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)]


def greedy_nms_fixed(boxes, scores, iou_threshold, max_keep, early_exit=False):
    """
    Greedy NMS on the boxes' device with a fixed-size result: (index (K,), valid (K,) bool).

    The same decisions as :func:`box_iou_greedy_keep` (torchvision ``nms`` followed by
    ``[:max_keep]``): each step keeps the highest-scoring remaining box (the first on ties, as a
    stable sort) and removes every box whose IoU with it exceeds the threshold. ``scores`` is
    -inf where a box is no candidate. Exactly ``max_keep`` steps, no host synchronisation and
    no data-dependent shape, so it can be captured in a CUDA graph; ``valid`` marks the steps
    that found a box (a prefix). ``early_exit`` stops once nothing remains, which reads a value
    on the host: only for CPU tensors, where that costs nothing.
    """
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    remaining = scores.clone()
    positions = torch.arange(scores.shape[0], device=scores.device)
    picked, found = [], []
    for _ in range(max_keep):
        best = remaining.argmax().reshape(1)
        ok = remaining.index_select(0, best) > float('-inf')
        box = boxes.index_select(0, best)[0]
        inter_w = (torch.minimum(box[2], x2) - torch.maximum(box[0], x1)).clamp_(min=0)
        inter_h = (torch.minimum(box[3], y2) - torch.maximum(box[1], y1)).clamp_(min=0)
        inter = inter_w * inter_h
        iou = inter / ((box[2] - box[0]) * (box[3] - box[1]) + areas - inter)
        removed = (iou > iou_threshold) | (positions == best)
        remaining = remaining.masked_fill(removed, float('-inf'))
        picked.append(best)
        found.append(ok)
        if early_exit and not bool(ok):
            break
    index = torch.zeros(max_keep, dtype=torch.int64, device=scores.device)
    valid = torch.zeros(max_keep, dtype=torch.bool, device=scores.device)
    if picked:
        index[:len(picked)] = torch.cat(picked)
        valid[:len(found)] = torch.cat(found)
    return torch.where(valid, index, torch.zeros_like(index)), valid


def non_max_suppression_fixed(raw, num_classes, conf=0.25, iou=0.7, max_det=300):
    """
    Ultralytics ``non_max_suppression`` for one image, fixed-size and on the device.

    ``raw`` is (4 + nc + nk, A) decoded output. Returns (rows (max_det, 6 + nk), valid
    (max_det,) bool): x1, y1, x2, y2, score, class, keypoint values (letterbox px) sorted by
    descending score; rows past the valid prefix are zero. Nothing is read on the host when
    ``raw`` lives on a GPU (see :func:`greedy_nms_fixed`).
    """
    pred = raw.transpose(0, 1)
    score, cls = pred[:, 4:4 + num_classes].max(1, keepdim=True)
    if pred.shape[0] > MAX_NMS_CANDIDATES:
        # ultralytics keeps the best MAX_NMS_CANDIDATES candidates; a top-k of the same size
        # keeps the shape static (non-candidates are removed by the threshold below).
        top = score.view(-1).topk(MAX_NMS_CANDIDATES).indices.sort().values
        pred, score, cls = pred[top], score[top], cls[top]
    cx, cy, w, h = pred[:, :4].unbind(1)
    boxes = torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), 1)
    rows = torch.cat((boxes, score, cls.float(), pred[:, 4 + num_classes:]), 1)
    candidate_scores = score.view(-1).masked_fill(score.view(-1) <= conf, float('-inf'))
    # Boxes of different classes never overlap once shifted by class * 7680 px.
    shifted = boxes + rows[:, 5:6] * CLASS_OFFSET
    # Stopping early reads a value on the host: free on the CPU, never on a GPU or in a graph.
    early_exit = raw.device.type == 'cpu' and not torch.compiler.is_compiling()
    index, valid = greedy_nms_fixed(shifted, candidate_scores, iou, max_det,
                                    early_exit=early_exit)
    return torch.where(valid[:, None], rows.index_select(0, index), 0.0), valid


def non_max_suppression(raw, num_classes, conf=0.25, iou=0.7, max_det=300):
    """
    Ultralytics ``non_max_suppression`` for one image (best class per box, class-aware).

    ``raw`` is (4 + nc + nk, A) decoded output. Returns (N, 6 + nk): x1, y1, x2, y2, score,
    class, keypoint values, letterbox px, sorted by descending score. The variable-size form
    of :func:`non_max_suppression_fixed` (reading N synchronises with a GPU).
    """
    rows, valid = non_max_suppression_fixed(raw, num_classes, conf, iou, max_det)
    return rows[:int(valid.sum())]


def scale_to_image(boxes, keypoints, box):
    """
    Map letterbox boxes (N, 4) and keypoints (N, K, >=2) back to image px and clip.

    Follows ultralytics ``scale_boxes`` (padding rounded with ``round(pad - 0.1)``) and
    ``scale_coords`` (padding unrounded); the gain is from input and image sizes.
    """
    in_h, in_w = box.input_hw
    h, w = box.image_hw
    gain = min(in_h / h, in_w / w)
    pad_x, pad_y = (in_w - w * gain) / 2, (in_h - h * gain) / 2
    # Python scalars, not a tensor of offsets: nothing is uploaded per frame.
    off_x, off_y = round(pad_x - 0.1), round(pad_y - 0.1)
    boxes = torch.stack((((boxes[:, 0] - off_x) / gain).clamp(0, w),
                         ((boxes[:, 1] - off_y) / gain).clamp(0, h),
                         ((boxes[:, 2] - off_x) / gain).clamp(0, w),
                         ((boxes[:, 3] - off_y) / gain).clamp(0, h)), 1)
    keypoints = keypoints.clone()
    keypoints[..., 0] = ((keypoints[..., 0] - pad_x) / gain).clamp(0, w)
    keypoints[..., 1] = ((keypoints[..., 1] - pad_y) / gain).clamp(0, h)
    return boxes, keypoints


class HandDetector:
    """
    YOLOv8-pose hand detector with ultralytics-equivalent pre- and post-processing.

    ``network`` is a fused :class:`~wilor_ros.models.yolo_pose.YoloPose`; ``imgsz`` the letterbox
    target (int or (h, w)); ``class_names`` maps class index to name ('left', 'right').
    ``dtype`` float16/bfloat16 runs the convolutions in that precision (decode, NMS and scaling
    stay float32).
    """

    def __init__(self, network, *, imgsz=640, class_names=None, device='cpu',
                 dtype=torch.float32, stride=32):
        self.device = torch.device(device)
        self.dtype = dtype
        self.imgsz = imgsz
        self.stride = int(stride)
        self.class_names = dict(class_names or {0: 'left', 1: 'right'})
        right = [i for i, name in self.class_names.items() if str(name).lower() == 'right']
        self.right_class = int(right[0]) if right else 1
        self.network = network.to(device=self.device, dtype=dtype).eval()
        self.config = network.config
        self._compiled = None

    def preprocess(self, image_bgr):
        """Letterbox a BGR uint8 image (numpy, or tensor on any device) -> (input, Letterbox)."""
        if isinstance(image_bgr, torch.Tensor) and image_bgr.device.type == 'cpu':
            # OpenCV is much faster on the CPU and gives the same pixels as letterbox_torch.
            image_bgr = image_bgr.numpy()
        if isinstance(image_bgr, torch.Tensor):
            _check_image(tuple(image_bgr.shape), image_bgr.dtype == torch.uint8)
            box = plan_letterbox(tuple(image_bgr.shape[:2]), self.imgsz, self.stride)
            tensor = letterbox_torch(image_bgr.to(self.device), box)
        else:
            image_bgr = np.asarray(image_bgr)
            _check_image(image_bgr.shape, image_bgr.dtype == np.uint8)
            box = plan_letterbox(image_bgr.shape[:2], self.imgsz, self.stride)
            tensor = letterbox_numpy(image_bgr, box).to(self.device)
        return tensor, box

    @torch.inference_mode()
    def raw(self, input_tensor):
        """
        Run the network on a (B, 3, H, W) RGB /255 input.

        Returns (output, head_maps): the decoded (B, 4 + nc + nk, A) float32 output and the
        per-level (B, 4 * reg_max + nc, h, w) box/class maps, as ultralytics ``Pose`` gives them.
        """
        x = input_tensor.to(device=self.device, dtype=self.dtype)
        box_cls, keypoints = self.network.forward_maps(x)
        output = self.network.head.decode(box_cls, keypoints)
        return output, [m.float() for m in box_cls]

    @torch.inference_mode()
    def detect_fixed(self, image_bgr, conf=0.25, iou=0.7, max_det=300):
        """
        Detect hands into fixed-size tensors on the detector's device; nothing read on the host.

        Same keys as :meth:`detect`, each with ``max_det`` rows, plus ``valid`` (max_det,) bool
        marking the detections (a prefix, by descending score); other rows are zero. The shapes
        depend only on ``max_det`` and the image size, so this can be captured in a CUDA graph.
        """
        tensor, box = self.preprocess(image_bgr)
        rows, valid = self._forward(tensor, float(conf), float(iou), int(max_det))
        if self._compiled is not None:
            # CUDA-graph outputs are overwritten by the next replay; these are small.
            rows, valid = rows.clone(), valid.clone()
        return self._detections(rows, valid, box)

    def forward_fixed(self, input_tensor, conf, iou, max_det):
        """
        Network, decoding and NMS on a letterboxed (1, 3, H, W) input: (rows, valid).

        The capturable core of :meth:`detect_fixed` (no host read, static shapes): what
        :meth:`compile` compiles and what the graph-break test traces.
        """
        x = input_tensor.to(device=self.device, dtype=self.dtype)
        output = self.network.head.decode(*self.network.forward_maps(x))
        return non_max_suppression_fixed(output[0], self.config.num_classes, conf, iou,
                                         max_det)

    def compile(self, mode='reduce-overhead'):  # noqa: A003 (as nn.Module.compile)
        """Run :meth:`forward_fixed` through ``torch.compile`` (CUDA graphs on a GPU)."""
        self._compiled = torch.compile(self.forward_fixed, mode=mode, dynamic=False)
        return self

    def _forward(self, input_tensor, conf, iou, max_det):
        function = self._compiled if self._compiled is not None else self.forward_fixed
        return function(input_tensor, conf, iou, max_det)

    def _detections(self, rows, valid, box):
        num_kpt, kpt_dims = self.config.keypoint_shape
        keypoints = rows[:, 6:].reshape(-1, num_kpt, kpt_dims)
        if kpt_dims == 2:
            # Models without a visibility channel: every keypoint counts as visible.
            keypoints = torch.cat((keypoints, torch.ones_like(keypoints[..., :1])), -1)
        boxes, keypoints = scale_to_image(rows[:, :4], keypoints, box)
        classes = rows[:, 5].long()
        return {'boxes': boxes, 'scores': rows[:, 4], 'classes': classes,
                'is_right': classes == self.right_class, 'keypoints': keypoints, 'valid': valid}

    @torch.inference_mode()
    def detect(self, image_bgr, conf=0.25, iou=0.7, max_det=300):
        """
        Detect hands; return torch tensors on the detector's device.

        Keys: ``boxes`` (N, 4) x1, y1, x2, y2 image px (unrounded, clipped); ``scores`` (N,);
        ``classes`` (N,) int64; ``is_right`` (N,) bool; ``keypoints`` (N, K, 3) u, v, visibility
        image px. Sorted by descending score. Reading N synchronises with a GPU once; see
        :meth:`detect_fixed` for the synchronisation-free form.
        """
        found = self.detect_fixed(image_bgr, conf, iou, max_det)
        count = int(found.pop('valid').sum())
        return {key: value[:count] for key, value in found.items()}

    def __call__(self, image_bgr, conf=0.25, iou=0.7, max_det=300):
        """Detect hands; return numpy arrays (see :meth:`detect`; no ``classes`` key)."""
        result = self.detect(image_bgr, conf=conf, iou=iou, max_det=max_det)
        return {'boxes': result['boxes'].float().cpu().numpy(),
                'scores': result['scores'].float().cpu().numpy(),
                'is_right': result['is_right'].cpu().numpy(),
                'keypoints': result['keypoints'].float().cpu().numpy()}


def _check_image(shape, is_uint8):
    if len(shape) != 3 or shape[2] != 3 or not is_uint8:
        raise ValueError(f'hand detector expects a uint8 HxWx3 BGR image, got shape {shape}'
                         f'{"" if is_uint8 else " (not uint8)"}')


def _layer_types(model, source):
    layers = getattr(model, 'state', {}).get('_modules', {}).get('model')
    modules = getattr(layers, 'state', {}).get('_modules', {})
    types = tuple(getattr(modules[k], 'cls_name', '?').rsplit('.', 1)[-1]
                  for k in sorted(modules, key=int))
    if types != YOLOV8_POSE_LAYERS:
        raise CheckpointError(f'{source}: expected a YOLOv8-pose layer graph '
                              f'({len(YOLOV8_POSE_LAYERS)} layers ending in Pose), found '
                              f'{len(types)} layers: {", ".join(types[:30])}')
    return modules


def _attribute(container, name, default):
    value = getattr(container, 'state', {}).get(name) if container is not None else None
    return default if value is None else value


def load_detector(path, device='cpu', dtype=torch.float32, imgsz=None):
    """
    Load WiLoR's ultralytics ``detector.pt`` into a :class:`HandDetector`.

    Architecture sizes come from the weight shapes; strides, keypoint layout, class names and
    the letterbox size (``train_args['imgsz']``, default 640) from the pickled attributes.
    ``imgsz`` overrides the letterbox size. Raises :class:`CheckpointError` (a ``ValueError``)
    naming the file when it is missing, damaged or not a YOLOv8-pose checkpoint.
    """
    source = f'detector file {path}'
    checkpoint = load_checkpoint(path, kind='detector')
    model = None
    if isinstance(checkpoint, dict):
        # ultralytics loads the EMA weights when present, else the model (as attempt_load_weights).
        model = checkpoint.get('ema') or checkpoint.get('model')
    if not getattr(model, 'cls_name', '').endswith('PoseModel'):
        found = (f'keys {sorted(checkpoint)[:8]}' if isinstance(checkpoint, dict)
                 else type(checkpoint).__name__)
        raise CheckpointError(f'{source}: not an ultralytics YOLOv8-pose checkpoint (expected a '
                              f'dict whose "model" is a pickled PoseModel; found {found})')
    modules = _layer_types(model, source)

    def submodule(index, *names):
        node = modules.get(str(index))
        for name in names:
            node = getattr(node, 'state', {}).get('_modules', {}).get(name)
        return node

    strides = _attribute(model, 'stride', None)
    strides = (8.0, 16.0, 32.0) if strides is None else [float(s) for s in strides]
    network = build_yolo_pose(
        module_state_dict(model), source=source, strides=strides,
        keypoint_shape=_attribute(model, 'kpt_shape', None),
        sppf_kernel=_attribute(submodule(9, 'm'), 'kernel_size', 5),
        backbone_shortcut=_attribute(submodule(2, 'm', '0'), 'add', True),
        neck_shortcut=_attribute(submodule(12, 'm', '0'), 'add', False))
    if imgsz is None:
        train_args = checkpoint.get('train_args') or {}
        imgsz = train_args.get('imgsz') if isinstance(train_args, dict) else None
        imgsz = imgsz or _attribute(_attribute(model, 'args', None), 'imgsz', None) or 640
    if not np.isscalar(imgsz):
        imgsz = tuple(int(v) for v in imgsz)
        imgsz = imgsz[0] if len(imgsz) == 1 else imgsz
    names = _attribute(model, 'names', None)
    return HandDetector(network, imgsz=imgsz, class_names=names, device=device, dtype=dtype,
                        stride=int(max(strides)))
