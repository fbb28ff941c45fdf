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

Per frame on a GPU the host waits for the device twice, and nothing else crosses the bus
blocking (``test/test_pipeline_transfers.py`` counts it on a simulated GPU):

1. the frame goes up once, asynchronously from pinned memory, and is shared by the detector's
   letterbox and the crops;
2. the detector (network, decoding, NMS) writes a fixed-size table with a validity mask; that
   table comes down in one copy (wait 1: the hand count picks the batch size);
3. the crops are planned on the host from those boxes with OpenCV's own arithmetic and the plans
   go up in one asynchronous copy; all hands of a frame (or of several frames, see
   :meth:`HandPipeline.process_batch`) go through the reconstructor in one batch;
4. the rotations are converted on the device and all results come down in one copy (wait 2).

With ``compile=True`` the batch is padded to a static bucket (1, 2, 4, 8, then multiples of 8
hands) and the detector and reconstructor run through ``torch.compile(mode='reduce-overhead')``
(CUDA graphs on a GPU); neither has a graph break. Precisions: :mod:`wilor_ros.precision`;
loading both networks onto a device: :mod:`wilor_ros.loading`.
"""

import dataclasses

import numpy as np
import torch

from wilor_ros.camera import intrinsics_from_matrix, wilor_heuristic_intrinsics
from wilor_ros.crops import _crops_opencv, crop_geometry, cut_crops, frame_to_tensor, plan_crops
from wilor_ros.depth_fusion import depth_to_metres, fuse_hands
from wilor_ros.finite import split_finite
from wilor_ros.postprocess import hand_results_from_host, outputs_to_host
from wilor_ros.transfers import host_array, to_host

DEFAULT_MAX_HANDS = 10
# Static batch sizes with compile=True (above the last: multiples of it).
BATCH_BUCKETS = (1, 2, 4, 8)
# Image size the warm-up letterboxes when none is given (VGA).
WARM_UP_IMAGE_HW = (480, 640)

__all__ = ['BATCH_BUCKETS', 'DEFAULT_MAX_HANDS', 'HandPipeline']


class HandPipeline:
    """
    WiLoR hand reconstruction for BGR images.

    ``detector``: a :class:`wilor_ros.detector.HandDetector` (``load_detector``);
    ``reconstructor``: a :class:`wilor_ros.reconstructor.WiLoR` (``load_reconstructor``);
    ``conf``: detector confidence threshold (official demo: 0.3); ``iou``: NMS IoU threshold
    (ultralytics default 0.7); ``rescale_factor``: crop enlargement around each box (official
    demo: 2.0); ``max_hands``: keep at most this many hands per frame, highest scores first;
    ``dtype``: None keeps the reconstructor's precision, else 'fp32' / 'fp16' / 'bf16' (or the
    torch dtype) for its network layers; ``compile``: pad batches to static buckets
    (:data:`BATCH_BUCKETS`) and run both networks through
    ``torch.compile(mode='reduce-overhead')`` (CUDA graphs on a GPU; the first call per
    bucket compiles, see :meth:`warm_up`).

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
    Images may be numpy arrays or uint8 tensors on any device; boxes given to
    :meth:`reconstruct` may be numpy, lists or tensors on any device.
    """

    def __init__(self, detector, reconstructor, conf=0.3, iou=0.7, rescale_factor=2.0,
                 max_hands=DEFAULT_MAX_HANDS, dtype=None,
                 compile=False):  # noqa: A002 (the node parameter's name)
        self.detector = detector
        self.reconstructor = reconstructor
        self.non_finite_hands = 0
        self.conf = self.iou = self.rescale_factor = self.max_hands = None
        self.configure(conf=conf, iou=iou, rescale_factor=rescale_factor, max_hands=max_hands)
        if dtype is not None:
            reconstructor.set_precision(dtype)
        self.precision = None
        self.compiled = bool(compile)
        self._network = reconstructor
        if self.compiled:
            self._network = torch.compile(reconstructor, mode='reduce-overhead', dynamic=False)
            detector.compile()

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

    def warm_up(self, image_hw=WARM_UP_IMAGE_HW, max_hands=None):
        """
        Run every stage once so the first real frame does not pay library initialisation.

        Letterboxes and detects on a blank ``image_hw`` frame (the letterbox shape, hence the
        detector's compiled graph, depends on the image size: pass the camera's), then runs
        the reconstructor at every batch bucket up to ``max_hands`` (default: the pipeline's)
        with ``compile=True``, or at batch 1 otherwise (kernel selection, cuDNN/cuBLAS
        handles, allocator pools). Returns the seconds it took.
        """
        import time

        start = time.perf_counter()
        frame = np.zeros(tuple(image_hw) + (3,), dtype=np.uint8)
        self._detect_frames([frame_to_tensor(frame, self.device)])
        limit = self.max_hands if max_hands is None else int(max_hands)
        sizes = sorted({self._batch_size(n) for n in range(1, limit + 1)}) if self.compiled \
            else [1]
        crop = self.reconstructor.crop_size
        with torch.inference_mode():
            for size in sizes:
                outputs = self._network(torch.zeros((size, 3, crop, crop), device=self.device))
                to_host(outputs['pred_vertices'][:1, :1])
        return time.perf_counter() - start

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
        return self._detect_frames([image_bgr])[0]

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
        1.0), ``keypoint_confidence`` (N, 21) or None: numpy, lists or tensors on any device
        (e.g. :meth:`HandDetector.detect`'s); ``depth``: see the class. Returns a list of
        HandResult in the given order; boxes without area (clipped to nothing at the image
        border) are skipped.
        """
        boxes = host_array(boxes, np.float32).reshape(-1, 4)
        scores = (np.ones(len(boxes), np.float32) if scores is None
                  else host_array(scores, np.float32).reshape(-1))
        depth = _checked_depth(depth, tuple(image_bgr.shape), camera_matrix)
        frame = frame_to_tensor(image_bgr, self.device)
        if keypoint_confidence is not None:
            keypoint_confidence = host_array(keypoint_confidence, np.float32).reshape(-1, 21)
        return self._reconstruct([(frame, boxes, scores,
                                   host_array(is_right).reshape(-1).astype(bool),
                                   camera_matrix, (depth, keypoint_confidence))],
                                 compute_vertices)[0]

    def process_batch(self, images, camera_matrices=None, compute_vertices=True, depths=None,
                      sides=None):
        """
        Detect and reconstruct several frames with one reconstructor call for all hands.

        ``camera_matrices``: None or one entry (3x3 K or None) per image; ``depths``: None or
        one aligned depth image (or None) per image; ``sides``: None or one callable (or None)
        per image, see the class. Returns one list of HandResult per image. The detections of
        all frames come down in one copy and all results in another.
        """
        if camera_matrices is None:
            camera_matrices = [None] * len(images)
        if len(camera_matrices) != len(images):
            raise ValueError(f'{len(images)} images but {len(camera_matrices)} camera matrices')
        depths = _per_image(depths, len(images), 'depth images')
        sides = _per_image(sides, len(images), 'side choosers')
        depths = [_checked_depth(depth, tuple(image.shape), camera_matrix)
                  for image, depth, camera_matrix in zip(images, depths, camera_matrices)]
        frames = [frame_to_tensor(image, self.device) for image in images]
        batch = []
        for frame, found, camera_matrix, depth, choose_sides in zip(
                frames, self._detect_frames(frames), camera_matrices, depths, sides):
            is_right = found['is_right']
            if choose_sides is not None:
                is_right = np.asarray(choose_sides(found['boxes'], found['scores'], is_right),
                                      dtype=bool).reshape(is_right.shape)
            batch.append((frame, found['boxes'], found['scores'], is_right, camera_matrix,
                          (depth, found['keypoint_confidence'])))
        return self._reconstruct(batch, compute_vertices)

    def camera_intrinsics(self, camera_matrix, width, height):
        """Intrinsics from a camera matrix, or WiLoR's heuristic for a W x H image when None."""
        if camera_matrix is not None:
            return intrinsics_from_matrix(camera_matrix)
        return wilor_heuristic_intrinsics(width, height, self.reconstructor.focal_length,
                                          self.reconstructor.crop_size)

    def _batch_size(self, count):
        """Return the static bucket a batch of ``count`` crops is padded to (compile=True)."""
        if not self.compiled:
            return count
        for bucket in BATCH_BUCKETS:
            if count <= bucket:
                return bucket
        step = BATCH_BUCKETS[-1]
        return -(-count // step) * step

    def _detect_frames(self, images):
        """Detect in every frame; one copy brings all tables down: a dict per frame."""
        tables = []
        for image in images:
            found = self.detector.detect_fixed(image, conf=self.conf, iou=self.iou,
                                               max_det=self.max_hands)
            tables.append(torch.cat((found['valid'][:, None].float(), found['boxes'].float(),
                                     found['scores'][:, None].float(),
                                     found['is_right'][:, None].float(),
                                     found['keypoints'][..., 2].float()), dim=1))
        host = to_host(torch.stack(tables)) if tables else np.zeros((0, 0, 7), np.float32)
        detections = []
        for table in host:
            table = table[table[:, 0] > 0.5]
            detections.append({'boxes': np.ascontiguousarray(table[:, 1:5], dtype=np.float32),
                               'scores': table[:, 5].astype(np.float32),
                               'is_right': table[:, 6] > 0.5,
                               'keypoint_confidence': np.ascontiguousarray(
                                   table[:, 7:], dtype=np.float32)})
        return detections

    def _crops(self, frame, boxes, is_right):
        """Crops (B, 3, S, S) of one frame's hands on the reconstructor's device."""
        center, size = crop_geometry(boxes, self.rescale_factor, self.reconstructor.crop_size)
        right = is_right.astype(np.float32)
        if frame.device.type == 'cpu':
            crops = _crops_opencv(np.ascontiguousarray(frame.numpy()), center, size, right,
                                  self.reconstructor.crop_size)
            return crops.to(self.device)
        plan = plan_crops(center, size, right, tuple(frame.shape[:2]),
                          self.reconstructor.crop_size)
        return cut_crops(frame, plan).to(self.device)

    def _run_network(self, crops):
        """Run the reconstructor on a batch, padded to its static bucket when compiled."""
        count = crops.shape[0]
        size = self._batch_size(count)
        if size > count:
            crops = torch.cat((crops, crops.new_zeros((size - count,) + crops.shape[1:])))
        with torch.inference_mode():
            outputs = self._network(crops)
        return {key: value[:count] for key, value in outputs.items()}

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
                crops.append(self._crops(frame, boxes[keep], is_right[keep]))
        host = None
        if crops:
            outputs = self._run_network(torch.cat(crops) if len(crops) > 1 else crops[0])
            # Depth fusion places the mesh, so it needs the vertices even when not published.
            needs_vertices = compute_vertices or any(frame[5][0] is not None for frame in frames)
            host = outputs_to_host(outputs, needs_vertices)
        results, start = [], 0
        for (frame, boxes, scores, is_right, camera_matrix, extras), keep in zip(frames, kept):
            count = len(keep)
            if count == 0:
                results.append([])
                continue
            part = {key: value[start:start + count] for key, value in host.items()}
            start += count
            center, size = crop_geometry(boxes[keep], self.rescale_factor,
                                         self.reconstructor.crop_size)
            intrinsics = self.camera_intrinsics(camera_matrix, frame.shape[1], frame.shape[0])
            depth, confidence = extras
            # Non-finite hands are dropped once all is attached, so indices still line up.
            hands = hand_results_from_host(part, center, size, boxes[keep], scores[keep],
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
