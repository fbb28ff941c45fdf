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

from wilor_ros.compile_counters import CompileCounter
from wilor_ros.letterbox import letterbox_numpy, letterbox_torch, plan_letterbox
from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint, module_state_dict
from wilor_ros.models.yolo_pose_checkpoint import build_yolo_pose
# The NMS is part of this module's API (the detector's post-processing, used by benchmarks).
from wilor_ros.nms import greedy_nms_fixed, non_max_suppression  # noqa: F401
from wilor_ros.nms import non_max_suppression_fixed

# Rows per frame of HandDetector.detect_batch: the pipeline's max_hands (default 10) fits.
DEFAULT_TABLE_SIZE = 16

# Layer classes of yolov8-pose.yaml (ultralytics layers 0-22), checked before loading.
YOLOV8_POSE_LAYERS = (
    'Conv', 'Conv', 'C2f', 'Conv', 'C2f', 'Conv', 'C2f', 'Conv', 'C2f', 'SPPF',
    'Upsample', 'Concat', 'C2f', 'Upsample', 'Concat', 'C2f', 'Conv', 'Concat', 'C2f',
    'Conv', 'Concat', 'C2f', 'Pose',
)


def scale_to_image(boxes, keypoints, box):
    """
    Map letterbox boxes (..., 4) and keypoints (..., K, >=2) back to image px and clip.

    Follows ultralytics ``scale_boxes`` (padding rounded with ``round(pad - 0.1)``) and
    ``scale_coords`` (padding unrounded); the gain is from input and image sizes. Returns
    (boxes, keypoints), keypoints with their first two values mapped and the rest kept.
    """
    in_h, in_w = box.input_hw
    h, w = box.image_hw
    gain = min(in_h / h, in_w / w)
    pad_x, pad_y = (in_w - w * gain) / 2, (in_h - h * gain) / 2
    # Python scalars, not a tensor of offsets: nothing is uploaded per frame. x and y columns
    # are mapped as two strided views (x1, x2 and y1, y2): 7 kernels for the boxes instead of
    # 13 one column at a time, the same arithmetic per value.
    off_x, off_y = round(pad_x - 0.1), round(pad_y - 0.1)
    xs = ((boxes[..., 0::2] - off_x) / gain).clamp(0, w)
    ys = ((boxes[..., 1::2] - off_y) / gain).clamp(0, h)
    boxes = torch.stack((xs, ys), -1).flatten(-2)
    u = ((keypoints[..., 0] - pad_x) / gain).clamp(0, w)
    v = ((keypoints[..., 1] - pad_y) / gain).clamp(0, h)
    keypoints = torch.cat((torch.stack((u, v), -1), keypoints[..., 2:]), -1)
    return boxes, keypoints


class HandDetector:
    """
    YOLOv8-pose hand detector with ultralytics-equivalent pre- and post-processing.

    ``network`` is a fused :class:`~wilor_ros.models.yolo_pose.YoloPose`; ``imgsz`` the letterbox
    target (int or (h, w)); ``class_names`` maps class index to name ('left', 'right').
    ``dtype`` float16/bfloat16 runs the convolutions in that precision (decode, NMS and scaling
    stay float32). ``table_size`` is the fixed number of detection rows per frame of
    :meth:`detect_batch` (the NMS runs that many steps; ``max_det`` may not exceed it).
    """

    def __init__(self, network, *, imgsz=640, class_names=None, device='cpu',
                 dtype=torch.float32, stride=32, table_size=DEFAULT_TABLE_SIZE):
        self.device = torch.device(device)
        self.dtype = dtype
        self.imgsz = imgsz
        self.stride = int(stride)
        self.table_size = int(table_size)
        if self.table_size < 1:
            raise ValueError(f'table_size must be at least 1, got {table_size}')
        self.class_names = dict(class_names or {0: 'left', 1: 'right'})
        right = [i for i, name in self.class_names.items() if str(name).lower() == 'right']
        self.right_class = int(right[0]) if right else 1
        self.network = network.to(device=self.device, dtype=dtype).eval()
        self.config = network.config
        self._compiled = None
        self.compile_counter = CompileCounter('hand detector')
        self._threshold_key = None
        self._thresholds = None

    def preprocess(self, image_bgr):
        """Letterbox a BGR uint8 image (numpy, or tensor on any device) -> (input, Letterbox)."""
        image_bgr = _host_or_tensor(image_bgr)
        box = plan_letterbox(tuple(image_bgr.shape[:2]), self.imgsz, self.stride)
        return self._letterbox([image_bgr], box), box

    def _letterbox(self, images, box):
        # Frames of one size: one letterbox for all of them, on the device for device tensors.
        if isinstance(images[0], torch.Tensor):
            stack = images[0][None] if len(images) == 1 else torch.stack(images)
            return letterbox_torch(stack.to(self.device), box)
        # OpenCV is much faster on the CPU and gives the same pixels as letterbox_torch; the
        # frames go up in one copy.
        inputs = [letterbox_numpy(image, box) for image in images]
        return (inputs[0] if len(inputs) == 1 else torch.cat(inputs)).to(self.device)

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
    def detect_batch(self, images, conf=0.25, iou=0.7, max_det=None):
        """
        Detect hands in several frames into fixed-size tensors; nothing is read on the host.

        ``images``: a list of uint8 HxWx3 BGR images (numpy, or uint8 tensors on one device);
        sizes may differ. Returns a dict of tensors on the detector's device, a leading frame
        axis (N) and ``T`` = ``table_size`` rows per frame: ``valid`` (N, T) bool (a prefix per
        frame, by descending score; rows at or past ``max_det`` are invalid), ``boxes`` (N, T, 4)
        x1, y1, x2, y2 image px (unrounded, clipped, each frame by its own letterbox),
        ``scores`` (N, T), ``classes`` (N, T) int64, ``is_right`` (N, T) bool, ``keypoints``
        (N, T, K, 3) u, v, visibility image px; invalid rows hold the mapping of zeros.
        ``max_det`` (default ``T``) must be at most ``T``: ValueError otherwise.

        Frames whose letterbox has the same input size run together: one letterbox per image
        size, one network forward and one NMS per input size (one in all for same-size frames,
        the multi-camera case). Frames of different input sizes are not padded onto one
        canvas: ultralytics letterboxes each image to its own minimal stride multiple, and
        extra padding would change the detections.
        """
        max_det = self.table_size if max_det is None else int(max_det)
        if not 0 <= max_det <= self.table_size:
            raise ValueError(f'max_det must be between 0 and the detector table size '
                             f'{self.table_size}, got {max_det}')
        return self._detect_batch(images, conf, iou, max_det, self.table_size)

    def _detect_batch(self, images, conf, iou, max_det, table_size):
        images = [_host_or_tensor(image) for image in images]
        if not images:
            raise ValueError('detect_batch needs at least one image')
        boxes = [plan_letterbox(tuple(image.shape[:2]), self.imgsz, self.stride)
                 for image in images]
        thresholds = self._threshold_tensors(conf, iou, max_det)
        # Frames by network input size, then by image size (= letterbox) inside each.
        groups = {}
        for index, box in enumerate(boxes):
            groups.setdefault(box.input_hw, {}).setdefault(box, []).append(index)
        pieces, frame_at = [], [None] * len(images)
        for by_box in groups.values():
            parts = [self._letterbox([images[i] for i in indices], box)
                     for box, indices in by_box.items()]
            rows, valid = self._forward(parts[0] if len(parts) == 1 else torch.cat(parts),
                                        *thresholds, table_size)
            if self._compiled is not None:
                # CUDA-graph outputs are overwritten by the next replay (compiled or captured);
                # these are small.
                rows, valid = rows.clone(), valid.clone()
            start = 0
            for box, indices in by_box.items():
                end = start + len(indices)
                pieces.append(self._detections(rows[start:end], valid[start:end], box))
                for offset, index in enumerate(indices):
                    frame_at[index] = (len(pieces) - 1, offset)
                start = end
        if len(pieces) == 1:
            return pieces[0]
        # Back to the callers' frame order: one concatenation per key.
        return {key: torch.cat([pieces[piece][key][offset:offset + 1]
                                for piece, offset in frame_at])
                for key in pieces[0]}

    def _threshold_tensors(self, conf, iou, max_det):
        # 0-d device tensors, so a compiled forward_fixed does not specialise on their values;
        # torch.full launches a fill (no host copy), and only when a value changes.
        key = (float(conf), float(iou), int(max_det))
        if key != self._threshold_key:
            self._thresholds = (
                torch.full((), key[0], dtype=torch.float32, device=self.device),
                torch.full((), key[1], dtype=torch.float32, device=self.device),
                torch.full((), key[2], dtype=torch.int64, device=self.device))
            self._threshold_key = key
        return self._thresholds

    @torch.inference_mode()
    def detect_fixed(self, image_bgr, conf=0.25, iou=0.7, max_det=300):
        """
        Detect hands in one image into fixed-size tensors on the detector's device.

        Same keys as :meth:`detect`, each with ``max_det`` rows, plus ``valid`` (max_det,) bool
        marking the detections (a prefix, by descending score). The single-frame form of
        :meth:`detect_batch`; the table has ``max(table_size, max_det)`` rows, so up to
        ``table_size`` the compiled graph is the batch path's.
        """
        max_det = int(max_det)
        if max_det < 0:
            raise ValueError(f'max_det must be >= 0, got {max_det}')
        found = self._detect_batch([image_bgr], conf, iou, max_det,
                                   max(self.table_size, max_det))
        return {key: value[0, :max_det] for key, value in found.items()}

    def forward_fixed(self, input_tensor, conf, iou, max_det, table_size=None):
        """
        Network, decoding and NMS on a letterboxed (N, 3, H, W) input: (rows, valid).

        The capturable core of :meth:`detect_batch` (no host read, static shapes): what
        :meth:`compile` compiles and what the graph-break test traces. ``conf``, ``iou`` and
        ``max_det`` are 0-d device tensors (numbers work, but a compiled graph specialises on
        them); rows (N, T, 6 + nk) and valid (N, T), ``T`` = ``table_size`` (default
        ``self.table_size``).
        """
        table_size = self.table_size if table_size is None else table_size
        x = input_tensor.to(device=self.device, dtype=self.dtype)
        output = self.network.head.decode(*self.network.forward_maps(x))
        return non_max_suppression_fixed(output, self.config.num_classes, conf, iou, max_det,
                                         table_size)

    def compile(self, mode='reduce-overhead', backend='inductor'):  # noqa: A003 (as nn.Module)
        """
        Run :meth:`forward_fixed` through ``torch.compile`` (CUDA graphs on a GPU).

        ``backend`` 'eager' or 'aot_eager' (with ``mode=None``) trace with Dynamo's real guards
        but compile nothing: the tests' fast check for recompilations. Compilations are counted
        in :attr:`compile_counter` (:class:`~wilor_ros.compile_counters.CompileCounter`).
        """
        options = {} if mode is None else {'mode': mode}
        compiled = torch.compile(self.forward_fixed, backend=backend, dynamic=False, **options)
        self._compiled = self.compile_counter.wrap(compiled)
        return self

    def capture(self, backend=None):
        """
        Replay :meth:`forward_fixed` from CUDA graphs recorded from the eager network.

        One graph per (frames, letterbox input size, table size), captured on first use
        (:class:`~wilor_ros.graph_capture.CapturedGraphs`, which then counts as
        :attr:`compile_counter`); ``backend``: how graphs are recorded (default CUDA's).
        """
        from wilor_ros.graph_capture import CapturedGraphs, CudaGraphs

        self._compiled = CapturedGraphs('hand detector', self.forward_fixed,
                                        backend or CudaGraphs)
        self.compile_counter = self._compiled
        return self

    def _forward(self, input_tensor, conf, iou, max_det, table_size):
        function = self._compiled if self._compiled is not None else self.forward_fixed
        return function(input_tensor, conf, iou, max_det, table_size)

    def _detections(self, rows, valid, box):
        num_kpt, kpt_dims = self.config.keypoint_shape
        keypoints = rows[..., 6:].unflatten(-1, (num_kpt, kpt_dims))
        if kpt_dims == 2:
            # Models without a visibility channel: every keypoint counts as visible.
            keypoints = torch.cat((keypoints, torch.ones_like(keypoints[..., :1])), -1)
        boxes, keypoints = scale_to_image(rows[..., :4], keypoints, box)
        classes = rows[..., 5].long()
        return {'boxes': boxes, 'scores': rows[..., 4], 'classes': classes,
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


def _host_or_tensor(image):
    # A checked uint8 HxWx3 frame: a device tensor as it is, anything else as numpy (a CPU
    # tensor too: OpenCV letterboxes it faster than torch, to the same pixels).
    if isinstance(image, torch.Tensor) and image.device.type != 'cpu':
        _check_image(tuple(image.shape), image.dtype == torch.uint8)
        return image
    if isinstance(image, torch.Tensor):
        image = image.numpy()
    image = np.asarray(image)
    _check_image(image.shape, image.dtype == np.uint8)
    return image


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
