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

1. each frame goes up once, asynchronously from pinned memory, and is shared by the detector's
   letterbox and the crops;
2. the detector (letterbox, network, decoding, NMS) runs once for all frames of a batch
   (:meth:`~wilor_ros.backend.HandDetectorBackend.detect_batch`) and writes a fixed-size table
   per frame with a validity mask; the tables come down in one copy (wait 1: the hand count
   picks the batch size);
3. the crops of all hands of all frames are planned on the host from those boxes with
   OpenCV's own arithmetic (the crop geometry once per hand, :class:`FrameHands`), the plans go
   up in one asynchronous copy and one gather cuts them (:func:`wilor_ros.crops.cut_hand_crops`);
   all hands go through the reconstructor in one batch;
4. the rotations are converted on the device and all results come down in one copy (wait 2).

The two networks are used only through the protocols of :mod:`wilor_ros.backend`.

With ``compile=True`` the batch is padded to a static bucket (1, 2, 4, 8, then multiples of 8
hands) and the detector and reconstructor run through ``torch.compile(mode='reduce-overhead')``
(CUDA graphs on a GPU); neither has a graph break. Precisions: :mod:`wilor_ros.precision`;
loading both networks onto a device: :mod:`wilor_ros.loading`.
"""

import contextlib
import time

import numpy as np
import torch

from wilor_ros.backend import check_detector, check_reconstructor
from wilor_ros.batch_stages import (DetectedBatch, detection_table, frame_hand_results,
                                    LaunchedBatch, per_image, plan_frames, run_overlapped,
                                    split_table)
from wilor_ros.camera import intrinsics_from_matrix, wilor_heuristic_intrinsics
from wilor_ros.crops import cut_hand_crops, frame_to_tensor
from wilor_ros.frame_hands import checked_depth, FrameHands
from wilor_ros.graph_book import compile_options, GraphBook
from wilor_ros.options import check_thresholds, DEFAULT_MAX_HANDS
from wilor_ros.postprocess import pack_outputs, unpack_outputs
from wilor_ros.skeleton import NUM_JOINTS
from wilor_ros.streams import DetectionStream
from wilor_ros.transfers import host_array, to_host

# Static batch sizes with compile=True: powers of two (these, then 16, 32, ...). Each bucket is
# a graph, and Dynamo keeps a bounded number per function (graph_book.RECOMPILE_LIMIT): powers
# of two cover 8 cameras x 10 hands in 8 buckets, at the price of padding up to twice the crops.
BATCH_BUCKETS = (1, 2, 4, 8)
# Image size the warm-up letterboxes when none is given (VGA).
WARM_UP_IMAGE_HW = (480, 640)

__all__ = ['BATCH_BUCKETS', 'DEFAULT_MAX_HANDS', 'FrameHands', 'HandPipeline']


class HandPipeline:
    """
    WiLoR hand reconstruction for BGR images.

    ``detector``: a :class:`~wilor_ros.backend.HandDetectorBackend` (the torch one:
    :func:`wilor_ros.detector.load_detector`); ``reconstructor``: a
    :class:`~wilor_ros.backend.HandReconstructorBackend` (the torch one:
    :func:`wilor_ros.reconstructor.load_reconstructor`); ``conf``: detector confidence
    threshold (official demo: 0.3); ``iou``: NMS IoU threshold (ultralytics default 0.7);
    ``rescale_factor``: crop enlargement around each box (official demo: 2.0); ``max_hands``:
    keep at most this many hands per frame, highest scores first; ``dtype``: None keeps the
    reconstructor's precision, else 'fp32' / 'fp16' / 'bf16' for its network layers (torch
    reconstructor only); ``compile``: pad batches to static buckets (:data:`BATCH_BUCKETS`) and
    run both torch networks through ``torch.compile(mode='reduce-overhead')`` (CUDA graphs on a
    GPU; the first call per bucket and image size compiles: :meth:`warm_up`, :meth:`prepare_for`;
    what compiled, and any graph miss, in :attr:`graphs`, a :class:`~wilor_ros.graph_book.
    GraphBook`); ``compile_backend``: torch.compile's backend ('eager' traces with Dynamo's real
    guards but compiles nothing: the tests' recompilation check); ``graph_mode``: 'compile'
    (the above) or 'capture': the same buckets, but the graphs are CUDA graphs recorded from
    the eager networks (:mod:`wilor_ros.graph_capture`: seconds to start, no kernel
    generation; ``capture_backend`` replaces CUDA's recorder in tests). Most users get one from
    :func:`wilor_ros.loading.load_pipeline` and :class:`wilor_ros.options.PipelineOptions`.

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
                 compile=False, compile_backend='inductor',  # noqa: A002 (node parameter)
                 graph_mode='compile', capture_backend=None):
        self.detector = check_detector(detector)
        self.reconstructor = check_reconstructor(reconstructor)
        self.non_finite_hands = 0
        self.graphs = self.conf = self.iou = self.rescale_factor = self.max_hands = None
        self.configure(conf=conf, iou=iou, rescale_factor=rescale_factor, max_hands=max_hands)
        if dtype is not None:
            reconstructor.set_precision(dtype)
        # The precision the layers run in, as loading resolved it ('auto' -> bf16 / fp32).
        self.precision = None
        self.compiled = bool(compile)
        # Where compiled graphs persist (wilor_ros.compile_cache.CompileCache; set by
        # load_pipeline with compile), saved again after each prepare_for that compiled.
        self.compile_cache = None
        self._network = reconstructor
        self.graph_mode = graph_mode
        capture = self.compiled and graph_mode == 'capture'
        if capture:
            detector.capture(capture_backend)
        elif self.compiled:
            detector.compile(backend=compile_backend, **compile_options(compile_backend))
        self.graphs = GraphBook(self.compiled, getattr(detector, 'compile_counter', None))
        if capture:
            self._network = self.graphs.capture_reconstructor(reconstructor, capture_backend)
        elif self.compiled:
            self._network = self.graphs.compile_reconstructor(reconstructor, compile_backend)

    def configure(self, conf=None, iou=None, rescale_factor=None, max_hands=None):
        """
        Change the detection and crop settings (None keeps a value); ValueError when invalid.

        ``conf`` and ``iou`` in [0, 1], ``rescale_factor`` > 0, ``max_hands`` >= 1. All values
        are checked before any is applied, so a rejected call changes nothing. A
        ``max_hands`` above the detector's table size grows the table.
        """
        values = {
            'conf': self.conf if conf is None else float(conf),
            'iou': self.iou if iou is None else float(iou),
            'rescale_factor': (self.rescale_factor if rescale_factor is None
                               else float(rescale_factor)),
            'max_hands': self.max_hands if max_hands is None else int(max_hands),
        }
        check_thresholds(**values)
        for name, value in values.items():
            setattr(self, name, value)
        if self.max_hands > self.detector.table_size:
            self.detector.table_size = self.max_hands
            if self.graphs is not None:
                self.graphs.table_grown(self.max_hands)

    @property
    def device(self):
        """Device of the reconstructor (where frames and crops live)."""
        return torch.device(self.reconstructor.device)

    @property
    def faces(self):
        """MANO triangles (1538, 3) int64, right-hand winding."""
        return self.reconstructor.faces

    def warm_up(self, image_hw=WARM_UP_IMAGE_HW, max_hands=None, frames=1):
        """
        Run every stage once so the first real frame does not pay library initialisation.

        Letterboxes and detects on blank ``image_hw`` frames (the letterbox shape, hence the
        detector's compiled graph, depends on the image size: pass the camera's), with
        ``compile=True`` for every batch of 1 to ``frames`` frames (one per camera: each frame
        count is a graph of its own), then runs the reconstructor at every batch bucket up to
        ``frames`` x ``max_hands`` crops (default: the pipeline's max_hands), or at batch 1
        without compiling (kernel selection, cuDNN/cuBLAS handles, allocator pools). Returns
        the seconds it took.
        """
        start = time.perf_counter()
        frame = frame_to_tensor(np.zeros(tuple(image_hw) + (3,), dtype=np.uint8), self.device)
        frames = max(1, int(frames)) if self.compiled else 1
        for count in range(1, frames + 1):
            self._detect_frames([frame] * count)
        limit = (self.max_hands if max_hands is None else int(max_hands)) * frames
        sizes = sorted({self._batch_size(n) for n in range(1, limit + 1)}) if self.compiled \
            else [1]
        crop = self.reconstructor.crop_size
        for size in sizes:
            # Made outside inference mode, like real crops: Dynamo guards on the difference.
            crops = torch.zeros((size, 3, crop, crop), device=self.device)
            with torch.inference_mode():
                outputs = self._network(crops)
                to_host(outputs['pred_vertices'][:1, :1])
        self.graphs.warmed_up(image_hw, sizes, frames)
        return time.perf_counter() - start

    def prepare_for(self, image_hw, frames=1):
        """
        Warm up for batches of up to ``frames`` frames of ``image_hw`` unless done.

        With ``compile=True`` the detector's graph depends on the image size and on the number
        of frames in a batch: the node calls this for each camera's size with its number of
        cameras before the first frame (on its worker thread, so the node stays responsive);
        without compiling there is nothing to prepare. What it compiled is saved to
        :attr:`compile_cache` when there is one. Returns the seconds spent (0.0: nothing
        to do).
        """
        if not self.graphs.needs_warm_up(image_hw, frames):
            return 0.0
        seconds = self.warm_up(image_hw, self.max_hands, frames)
        if self.compile_cache is not None:
            # The new graphs persist too, so the next start finds this camera's size compiled.
            self.compile_cache.save()
        return seconds

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
        if keypoint_confidence is not None:
            keypoint_confidence = host_array(keypoint_confidence, np.float32).reshape(
                -1, NUM_JOINTS)
        hands = FrameHands.of(frame_to_tensor(image_bgr, self.device), boxes, scores,
                              host_array(is_right).reshape(-1).astype(bool),
                              keypoint_confidence, self.rescale_factor,
                              self.reconstructor.crop_size, camera_matrix,
                              checked_depth(depth, tuple(image_bgr.shape), camera_matrix))
        return self._collect(self._launch_reconstruction([hands], compute_vertices))[0]

    def process_batch(self, images, camera_matrices=None, compute_vertices=True, depths=None,
                      sides=None):
        """
        Detect and reconstruct several frames: one detector batch, one reconstructor batch.

        ``camera_matrices``: None or one entry (3x3 K or None) per image; ``depths``: None or
        one aligned depth image (or None) per image; ``sides``: None or one callable (or None)
        per image, see the class. Returns one list of HandResult per image. The detections of
        all frames come down in one copy and all results in another.
        """
        return self._collect(self._launch(self._start(images, camera_matrices, depths, sides),
                                          compute_vertices))

    def process_stream(self, batches, compute_vertices=True):
        """
        Process a sequence of batches, the detector of each overlapping the previous one's rest.

        ``batches``: an iterable of dicts of :meth:`process_batch`'s arguments (``images``, and
        optionally ``camera_matrices``, ``depths``, ``sides``); yields :meth:`process_batch`'s
        result for each, in order, equal to it. On a GPU, batch t+1 is uploaded and detected on
        a second CUDA stream (:class:`~wilor_ros.streams.DetectionStream`; with ``compile``
        in graph mode 'compile' on the same stream, queued ahead of the wait) while batch t's
        crops and reconstructor run (:func:`~wilor_ros.batch_stages.run_overlapped`); each
        batch still costs 2 host waits. Latency: at most one detector pass more than alone.
        ``sides`` callables are called after the previous batch's results were yielded, so a
        tracker that updates on them decides the next batch's sides. An error (ValueError for
        unusable input, RuntimeError for a failed run) belongs to the first batch whose
        results were not yielded; batches taken after it were not processed (see
        :meth:`wilor_ros.hand_stream.HandStream.process_stream`'s ``retry``).
        """
        # torch.compile's graphs share one memory pool: one stream (see DetectionStream).
        # Captured graphs have a pool each and may replay on the side stream.
        stream = DetectionStream(self.device,
                                 enabled=not (self.compiled and self.graph_mode == 'compile'))
        return run_overlapped(batches, lambda batch: self._start(stream=stream, **batch),
                              lambda detected: self._launch(detected, compute_vertices),
                              self._collect)

    def _start(self, images, camera_matrices=None, depths=None, sides=None, stream=None):
        """Upload the frames and queue their detection (on ``stream``'s side stream); no wait."""
        count = len(images)
        camera_matrices = per_image(camera_matrices, count, 'camera matrices')
        depths = per_image(depths, count, 'depth images')
        sides = per_image(sides, count, 'side choosers')
        depths = [checked_depth(depth, tuple(image.shape), camera_matrix)
                  for image, depth, camera_matrix in zip(images, depths, camera_matrices)]
        with stream.running(images) if stream is not None else contextlib.nullcontext():
            frames = [frame_to_tensor(image, self.device) for image in images]
            for frame in frames:
                self.graphs.check_image(tuple(frame.shape[:2]), len(frames))
            table = detection_table(self.detector, frames, self.conf, self.iou, self.max_hands)
            event = None
            if stream is not None and table is not None:
                table, event = stream.table_to_host(table)
        return DetectedBatch(frames, table, event, camera_matrices, depths, sides)

    def _launch(self, detected, compute_vertices):
        """Wait for the detections (wait 1), plan and queue the crops and the reconstructor."""
        if detected.event is not None:
            detected.event.synchronize()
            DetectionStream.hand_over(detected.event, detected.frames)
        batch = plan_frames(detected, self.rescale_factor, self.reconstructor.crop_size)
        return self._launch_reconstruction(batch, compute_vertices)

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
        return 1 << max(0, int(count) - 1).bit_length()

    def _detect_frames(self, images):
        """Detect in every frame at once; one copy brings all tables down: a dict per frame."""
        return split_table(detection_table(self.detector, images, self.conf, self.iou,
                                           self.max_hands))

    def _run_network(self, crops):
        """Run the reconstructor on a batch, padded to its static bucket when compiled."""
        count = crops.shape[0]
        size = self._batch_size(count)
        self.graphs.check_bucket(size)
        if size > count:
            crops = torch.cat((crops, crops.new_zeros((size - count,) + crops.shape[1:])))
        with torch.inference_mode():
            outputs = self._network(crops)
        return {key: value[:count] for key, value in outputs.items()}

    def _launch_reconstruction(self, batch, compute_vertices):
        """Queue the crops and the reconstructor for every hand of every frame; no wait."""
        launched = LaunchedBatch(batch, [len(hands) for hands in batch], compute_vertices)
        if not sum(launched.counts):
            return launched
        crops = cut_hand_crops([hands.frame for hands in batch],
                               np.repeat(np.arange(len(batch)), launched.counts),
                               np.concatenate([hands.center for hands in batch]),
                               np.concatenate([hands.size for hands in batch]),
                               np.concatenate([hands.is_right for hands in batch]),
                               self.reconstructor.crop_size)
        outputs = self._run_network(crops.to(self.device))
        # Depth fusion places the mesh, so it needs the vertices even when not published.
        needs_vertices = compute_vertices or any(hands.depth is not None for hands in batch)
        launched.outputs, launched.layout = pack_outputs(outputs, needs_vertices)
        return launched

    def _collect(self, launched):
        """Bring the results down in one copy (wait 2) and split them per frame."""
        if launched.outputs is None:
            return [[] for _ in launched.batch]
        host = unpack_outputs(to_host(launched.outputs), launched.layout)
        results, start = [], 0
        for hands, count in zip(launched.batch, launched.counts):
            if count == 0:
                results.append([])
                continue
            part = {key: value[start:start + count] for key, value in host.items()}
            start += count
            intrinsics = self.camera_intrinsics(hands.camera_matrix, hands.frame.shape[1],
                                                hands.frame.shape[0])
            # The triangles come from the device: only for depth fusion.
            faces = self.faces if hands.depth is not None else None
            found, dropped = frame_hand_results(hands, part, intrinsics, faces,
                                                launched.compute_vertices)
            self.non_finite_hands += dropped
            results.append(found)
        return results
