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
End-to-end WiLoR: detector -> crops -> reconstructor -> hands in the camera frame.

Per frame: the image is uploaded once to the reconstructor's device and shared by the
detector's letterbox and the crops; all hands of a frame (or of several frames, see
:meth:`HandPipeline.process_batch`) go through the reconstructor in one batch under
``torch.inference_mode``; one transfer brings the results back.
"""

import dataclasses
import pathlib

import numpy as np
import torch

from wilor_ros.camera import intrinsics_from_matrix, wilor_heuristic_intrinsics
from wilor_ros.crops import crop_geometry, crop_hands, frame_to_tensor
from wilor_ros.depth_fusion import depth_to_metres, fuse_hands
from wilor_ros.finite import split_finite
from wilor_ros.postprocess import build_hand_results

DEFAULT_MAX_HANDS = 10
PRECISIONS = ('fp32', 'fp16', 'bf16')


class PipelineLoadError(RuntimeError):
    """The pipeline cannot be built (weights missing or unreadable, device unusable)."""


def resolve_device(device='auto'):
    """
    Map a device string to the torch device to use; PipelineLoadError when it is unusable.

    ``auto``: ``cuda`` when torch can use a GPU, else ``cpu``; ``cpu``; ``cuda`` or ``cuda:N``
    (checked against the GPUs torch sees).
    """
    text = str(device).strip().lower()
    if text == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if text == 'cpu':
        return 'cpu'
    kind, _, index = text.partition(':')
    if kind != 'cuda' or (index and not index.isdigit()):
        raise PipelineLoadError(f'unknown device {device!r}: expected auto, cpu, cuda or cuda:N')
    if not torch.cuda.is_available():
        raise PipelineLoadError(f'device {device} requested but CUDA is not available to torch '
                                f'{torch.__version__}; use device cpu or auto')
    if int(index or 0) >= torch.cuda.device_count():
        raise PipelineLoadError(f'device {device} requested but only '
                                f'{torch.cuda.device_count()} CUDA device(s) exist')
    return text


def detector_dtype(precision):
    """
    Return the detector's dtype for a pipeline precision: fp32, or fp16 for fp16 and bf16.

    ultralytics runs the YOLOv8 detector in fp16 (``half=True``) or fp32; bf16's 8-bit mantissa
    moves boxes past the NMS threshold, so the detector never runs in bf16.
    """
    return torch.float32 if precision == 'fp32' else torch.float16


def load_pipeline(detector_path, reconstructor_path, device='auto', precision='fp32', *,
                  conf=0.3, iou=0.7, rescale_factor=2.0, max_hands=DEFAULT_MAX_HANDS):
    """
    Load both networks and build the :class:`HandPipeline`.

    The one way the node, the CLI and the benchmarks get a pipeline.

    ``device``: see :func:`resolve_device`; ``precision``: 'fp32', 'fp16' or 'bf16' for the
    reconstructor's network layers (the detector: :func:`detector_dtype`). Raises
    :class:`PipelineLoadError` with one line naming the file and the ``wilor-download``
    command when a weights file is missing or unusable, or the device when it is unusable.
    """
    from wilor_ros.detector import load_detector
    from wilor_ros.models.checkpoint_io import CheckpointError
    from wilor_ros.reconstructor import load_reconstructor
    from wilor_ros.weights import missing_weights_hint

    if precision not in PRECISIONS:
        raise PipelineLoadError(f'unknown precision {precision!r}: expected one of '
                                f'{", ".join(PRECISIONS)}')
    paths = {}
    for what, path in (('hand detector', detector_path),
                       ('WiLoR reconstructor', reconstructor_path)):
        path = pathlib.Path(path).expanduser()
        if not path.is_file():
            raise PipelineLoadError(f'{what} weights not found: {path}; {missing_weights_hint()}')
        paths[what] = path
    torch_device = resolve_device(device)
    try:
        detector = load_detector(paths['hand detector'], torch_device, detector_dtype(precision))
        reconstructor = load_reconstructor(paths['WiLoR reconstructor'], torch_device,
                                           dtype=precision)
    except CheckpointError as error:
        raise PipelineLoadError(f'{error}; {missing_weights_hint()}') from None
    return HandPipeline(detector, reconstructor, conf=conf, iou=iou,
                        rescale_factor=rescale_factor, max_hands=max_hands)


class HandPipeline:
    """
    WiLoR hand reconstruction for BGR images.

    ``detector``: a :class:`wilor_ros.detector.HandDetector` (``load_detector``);
    ``reconstructor``: a :class:`wilor_ros.reconstructor.WiLoR` (``load_reconstructor``);
    ``conf``: detector confidence threshold (official demo: 0.3); ``iou``: NMS IoU threshold
    (ultralytics default 0.7); ``rescale_factor``: crop enlargement around each box (official
    demo: 2.0); ``max_hands``: keep at most this many hands per frame, highest scores first;
    ``dtype``: None keeps the reconstructor's precision, else 'fp32' / 'fp16' / 'bf16' (or the
    torch dtype) for its network layers.

    ``pipe(image_bgr, camera_matrix=None, compute_vertices=True, depth=None, sides=None)``
    returns a list of :class:`~wilor_ros.hand.HandResult` in the detector's order (descending
    score). Without ``camera_matrix`` the translation uses WiLoR's focal heuristic
    5000/256 * max(W, H). ``depth``: a depth image aligned to the colour image (uint16 mm or
    float32 m, 0/NaN/inf = no data) puts each hand at its measured depth
    (:mod:`wilor_ros.depth_fusion`; needs ``camera_matrix``). ``sides``: a callable
    ``sides(boxes, scores, is_right) -> is_right`` run between detection and cropping, so a
    tracker's side decision (:meth:`wilor_ros.tracking.HandTracker.resolve_sides`) decides the
    crop mirroring.
    Hands with a non-finite number are dropped and counted in ``non_finite_hands`` (a running
    total).

    """

    def __init__(self, detector, reconstructor, conf=0.3, iou=0.7, rescale_factor=2.0,
                 max_hands=DEFAULT_MAX_HANDS, dtype=None):
        self.detector = detector
        self.reconstructor = reconstructor
        self.non_finite_hands = 0
        self.conf = self.iou = self.rescale_factor = self.max_hands = None
        self.configure(conf=conf, iou=iou, rescale_factor=rescale_factor, max_hands=max_hands)
        if dtype is not None:
            reconstructor.set_precision(dtype)

    def configure(self, conf=None, iou=None, rescale_factor=None, max_hands=None):
        """
        Change the detection and crop settings (None keeps a value); ValueError when invalid.

        ``conf`` and ``iou`` in [0, 1], ``rescale_factor`` > 0, ``max_hands`` >= 1. All values
        are checked before any is applied, so a rejected call changes nothing.
        """
        values = {
            'conf': self.conf if conf is None else float(conf),
            'iou': self.iou if iou is None else float(iou),
            'rescale_factor': (self.rescale_factor if rescale_factor is None
                               else float(rescale_factor)),
            'max_hands': self.max_hands if max_hands is None else int(max_hands),
        }
        for name in ('conf', 'iou'):
            if not 0.0 <= values[name] <= 1.0:
                raise ValueError(f'{name} must lie in [0, 1], got {values[name]}')
        if not (np.isfinite(values['rescale_factor']) and values['rescale_factor'] > 0):
            raise ValueError(f'rescale_factor must be positive, got {values["rescale_factor"]}')
        if values['max_hands'] < 1:
            raise ValueError(f'max_hands must be at least 1, got {values["max_hands"]}')
        for name, value in values.items():
            setattr(self, name, value)

    @property
    def device(self):
        """Device of the reconstructor (where frames and crops live)."""
        return torch.device(self.reconstructor.device)

    @property
    def faces(self):
        """MANO triangles (1538, 3) int64, right-hand winding."""
        return self.reconstructor.faces

    def detect(self, image_bgr):
        """
        Run the detector; return numpy boxes (N, 4) float32 (unrounded), scores, is_right.

        At most ``max_hands`` detections, highest scores first. ``image_bgr`` may be a uint8
        tensor already on a device (it is passed on as is).
        """
        found = self.detect_hands(image_bgr)
        return found['boxes'], found['scores'], found['is_right']

    def detect_hands(self, image_bgr):
        """
        Run the detector; return a numpy dict of the hands, highest scores first.

        ``boxes`` (N, 4) float32, ``scores`` (N,), ``is_right`` (N,) bool and
        ``keypoint_confidence`` (N, 21) float32: the detector's per-keypoint visibility.
        """
        found = self.detector.detect(image_bgr, conf=self.conf, iou=self.iou,
                                     max_det=self.max_hands)
        return {'boxes': found['boxes'].float().cpu().numpy(),
                'scores': found['scores'].float().cpu().numpy(),
                'is_right': found['is_right'].cpu().numpy().astype(bool),
                'keypoint_confidence': found['keypoints'][..., 2].float().cpu().numpy()}

    def __call__(self, image_bgr, camera_matrix=None, compute_vertices=True, depth=None,
                 sides=None):
        """Detect and reconstruct all hands of one BGR uint8 image; list of HandResult."""
        return self.process_batch([image_bgr], [camera_matrix], compute_vertices,
                                  depths=[depth], sides=[sides])[0]

    def reconstruct(self, image_bgr, boxes, is_right, camera_matrix=None, scores=None,
                    compute_vertices=True, depth=None, keypoint_confidence=None):
        """
        Reconstruct given hands without running the detector.

        ``boxes`` (N, 4) x1, y1, x2, y2 pixels, ``is_right`` (N,), ``scores`` (N,) (default
        1.0), ``keypoint_confidence`` (N, 21) or None, ``depth``: see the class. Returns a list
        of HandResult in the given order; boxes without area (clipped to nothing at the image
        border) are skipped.
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.ones(len(boxes), np.float32) if scores is None else scores
        depth = _checked_depth(depth, image_bgr.shape, camera_matrix)
        frame = frame_to_tensor(image_bgr, self.device)
        if keypoint_confidence is not None:
            keypoint_confidence = np.asarray(keypoint_confidence, np.float32).reshape(-1, 21)
        return self._reconstruct([(frame, boxes, np.asarray(scores, dtype=np.float32),
                                   np.asarray(is_right).astype(bool), camera_matrix,
                                   (depth, keypoint_confidence))],
                                 compute_vertices)[0]

    def process_batch(self, images, camera_matrices=None, compute_vertices=True, depths=None,
                      sides=None):
        """
        Detect and reconstruct several frames with one reconstructor call for all hands.

        ``camera_matrices``: None or one entry (3x3 K or None) per image; ``depths``: None or
        one aligned depth image (or None) per image; ``sides``: None or one callable (or None)
        per image, see the class. Returns one list of HandResult per image.
        """
        if camera_matrices is None:
            camera_matrices = [None] * len(images)
        if len(camera_matrices) != len(images):
            raise ValueError(f'{len(images)} images but {len(camera_matrices)} camera matrices')
        depths = _per_image(depths, len(images), 'depth images')
        sides = _per_image(sides, len(images), 'side choosers')
        depths = [_checked_depth(depth, image.shape, camera_matrix)
                  for image, depth, camera_matrix in zip(images, depths, camera_matrices)]
        frames = []
        for image, camera_matrix, depth, choose_sides in zip(images, camera_matrices, depths,
                                                             sides):
            frame = frame_to_tensor(image, self.device)
            found = self.detect_hands(frame)
            is_right = found['is_right']
            if choose_sides is not None:
                is_right = np.asarray(choose_sides(found['boxes'], found['scores'], is_right),
                                      dtype=bool).reshape(is_right.shape)
            frames.append((frame, found['boxes'], found['scores'], is_right, camera_matrix,
                           (depth, found['keypoint_confidence'])))
        return self._reconstruct(frames, compute_vertices)

    def camera_intrinsics(self, camera_matrix, width, height):
        """Intrinsics from a camera matrix, or WiLoR's heuristic for a W x H image when None."""
        if camera_matrix is not None:
            return intrinsics_from_matrix(camera_matrix)
        return wilor_heuristic_intrinsics(width, height, self.reconstructor.focal_length,
                                          self.reconstructor.crop_size)

    def _reconstruct(self, frames, compute_vertices):
        """Crop every frame's hands, run one batched reconstruction, split per frame."""
        crops, kept = [], []
        for frame, boxes, scores, is_right, *_ in frames:
            width = boxes[:, 2] - boxes[:, 0]
            height = boxes[:, 3] - boxes[:, 1]
            # Boxes clipped to nothing at the image border cannot be cropped.
            keep = np.flatnonzero((width > 0) & (height > 0))
            kept.append(keep)
            if len(keep):
                crops.append(crop_hands(frame, boxes[keep], is_right[keep],
                                        rescale_factor=self.rescale_factor,
                                        device=self.device)['img'])
        outputs = None
        if crops:
            with torch.inference_mode():
                outputs = self.reconstructor(torch.cat(crops) if len(crops) > 1 else crops[0])
        results, start = [], 0
        for (frame, boxes, scores, is_right, camera_matrix, extras), keep in zip(frames, kept):
            count = len(keep)
            if count == 0:
                results.append([])
                continue
            part = {key: value[start:start + count] for key, value in outputs.items()}
            start += count
            center, size = crop_geometry(boxes[keep], self.rescale_factor)
            intrinsics = self.camera_intrinsics(camera_matrix, frame.shape[1], frame.shape[0])
            depth, confidence = extras
            # Non-finite hands are dropped once all is attached, so indices still line up.
            hands = build_hand_results(part, center, size, boxes[keep], scores[keep],
                                       is_right[keep], intrinsics,
                                       compute_vertices or depth is not None,
                                       drop_non_finite=False)
            hands, dropped = split_finite(self._with_extras(hands, keep, depth, confidence,
                                                            intrinsics, compute_vertices))
            self.non_finite_hands += dropped
            results.append(hands)
        return results

    def _with_extras(self, hands, keep, depth, confidence, intrinsics, compute_vertices):
        """Attach the keypoint confidences, fuse the depth image, drop unwanted vertices."""
        if confidence is not None:
            hands = [dataclasses.replace(hand, keypoint_confidence=confidence[index].copy())
                     for hand, index in zip(hands, keep)]
        if depth is not None:
            hands, _ = fuse_hands(hands, depth, intrinsics, np.asarray(self.faces))
            if not compute_vertices:
                hands = [dataclasses.replace(hand, vertices=None) for hand in hands]
        return hands


def _per_image(values, count, what):
    """Return ``values`` as a list of ``count`` entries (None: nothing for any image)."""
    if values is None:
        return [None] * count
    values = list(values)
    if len(values) != count:
        raise ValueError(f'{count} images but {len(values)} {what}')
    return values


def _checked_depth(depth, image_shape, camera_matrix):
    """Return the depth image in metres (NaN = no data), or None; ValueError when unusable."""
    if depth is None:
        return None
    if camera_matrix is None:
        raise ValueError('a depth image needs the real camera matrix (camera_matrix=K): with '
                         "WiLoR's focal heuristic the hands are not metric, so fusing a depth "
                         'image with them is meaningless')
    return depth_to_metres(depth, image_shape)
