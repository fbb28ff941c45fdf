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
The per-batch work of ``wilor_node``, run by its worker thread.

The newest frame of every camera (:class:`~wilor_ros.ros.frame_mailbox.LatestFrames`) becomes a
:class:`CameraJob` (image converted, camera matrix and depth image paired, outputs wanted); all
jobs go through the node's :class:`~wilor_ros.hand_stream.HandStream` as one batch (pipeline,
each camera's tracker, after-tracking steps), then each camera's hands are published with that
camera's header. :class:`FrameWorker` is given everything it uses when it is made (the hand
stream, the camera streams, the statistics, the TF publisher, a logger and the current
settings); it knows nothing else of the node.
"""

import collections
import dataclasses
import time
from typing import Any, Optional

import numpy as np

from wilor_ros.debug_overlay import draw_hands
from wilor_ros.hand_stream import CameraFrame, TrackingOptions
from wilor_ros.image_conversion import image_msg_to_bgr
from wilor_ros.ros.markers import hand_markers
from wilor_ros.ros.messages import bgr_image_msg, hands_to_msg, stamp_seconds


@dataclasses.dataclass
class CameraJob:
    """One camera's frame in a batch: the image, its camera and the outputs wanted."""

    stream: Any  # wilor_ros.ros.camera_stream.CameraStream
    frame: Any  # wilor_ros.ros.frame_mailbox.Frame (message, time received)
    image: np.ndarray
    intrinsics: Optional[np.ndarray]
    wanted: Any  # wilor_ros.ros.camera_stream.WantedOutputs
    stamp: float
    depth: Optional[np.ndarray]


@dataclasses.dataclass
class _Batch:
    """A batch between :meth:`FrameWorker._begin` and :meth:`FrameWorker._finish`."""

    jobs: list
    settings: Any
    start: float  # time.monotonic() when its preparation began
    compute_vertices: bool

    def camera_frames(self):
        """Return the hand stream's frames of the batch's jobs."""
        return [CameraFrame(image=job.image, stamp=job.stamp, camera=job.stream.name,
                            camera_matrix=job.intrinsics, depth=job.depth) for job in self.jobs]


def tracking_options(settings):
    """Return the trackers' settings from the node's, or None when tracking is off."""
    if not settings.tracking_enabled:
        return None
    from wilor_ros.smoothing import SmoothingConfig

    smoothing = (SmoothingConfig(min_cutoff=settings.smoothing_min_cutoff,
                                 beta=settings.smoothing_beta)
                 if settings.smoothing_enabled else None)
    return TrackingOptions(max_missed=settings.tracking_max_missed, smoothing=smoothing,
                           side_hysteresis=settings.tracking_side_hysteresis,
                           max_speed=settings.smoothing_max_speed)


class FrameWorker:
    """
    The worker thread's loop and the processing of one batch.

    ``hand_stream``: the :class:`~wilor_ros.hand_stream.HandStream`; ``streams``: the camera
    streams by name; ``stats`` / ``rgbd_stats``: the node's counters; ``problems``: a
    :class:`~wilor_ros.ros.throttled_log.KindThrottledLogger`; ``logger``: the node's logger;
    ``tf_pub``: the :class:`~wilor_ros.ros.hand_tf.HandTfPublisher`; ``faces``: the MANO
    triangles; ``settings``: a callable returning the node's current settings;
    ``step_publishers``: the publishers of the after-tracking steps
    (:mod:`wilor_ros.ros.after_tracking`), called after every camera's hands are out.
    """

    def __init__(self, hand_stream, streams, stats, rgbd_stats, problems, logger, tf_pub,
                 faces, settings, step_publishers=()):
        """Keep what a batch needs."""
        self.hand_stream = hand_stream
        self.streams = streams
        self.stats = stats
        self.rgbd_stats = rgbd_stats
        self.problems = problems
        self.logger = logger
        self.tf_pub = tf_pub
        self.faces = faces
        self.settings = settings
        self.step_publishers = list(step_publishers)
        self.first_frame_logged = False
        self.non_finite_seen = hand_stream.pipeline.non_finite_hands

    def run(self, mailbox, stop, context_ok):
        """Process batches from ``mailbox`` until ``stop`` is set (the thread's target)."""
        while not stop.is_set():
            frames = mailbox.take_all(timeout=0.25)
            if not frames or stop.is_set():
                continue
            try:
                if self.settings().overlap:
                    self.process_overlapped(frames, mailbox, stop)
                else:
                    self.process(frames, stop)
            except Exception as error:  # The worker must outlive any single batch.
                if stop.is_set() or not context_ok():
                    return  # Shutting down: publishers may already be gone.
                self.stats.count_error('internal', repr(error))
                self.problems.error('internal', f'frame failed: {error!r}')

    def _intrinsics(self, stream, header, image_shape, settings):
        """Return the intrinsics to use for this image, or None for WiLoR's focal heuristic."""
        if not settings.use_camera_info:
            return None
        height, width = image_shape[:2]
        intrinsics, problem = stream.camera_infos.intrinsics_for(header, width, height,
                                                                 settings.sync_wait)
        if problem is not None:
            kind, text = problem
            self.stats.count_error(kind, text)
            self.problems.warning(kind, f'{stream.camera_info_sub.topic_name}: {text}; using '
                                  'the focal heuristic')
        return intrinsics

    def _depth_image(self, stream, header, image_shape, intrinsics, settings):
        """Return the aligned depth image (m) paired with this image, or None (monocular)."""
        if not settings.use_depth:
            return None
        depth, offset, problem = stream.depths.depth_for(
            header, image_shape, intrinsics is not None, settings.depth_sync_tolerance,
            settings.max_image_pixels, settings.sync_wait)
        self.rgbd_stats.set_offset(offset)
        if problem is not None:
            kind, text = problem
            if kind != 'depth_unmatched':  # A slower depth stream is normal, not an error.
                self.stats.count_error(kind, text)
            self.problems.warning(kind, text)
        self.rgbd_stats.count_frame(depth is not None, offset is not None)
        return depth

    def _publish_tf(self, stream, hands, header, settings):
        # Each camera tracks its own ids, so its hand frames carry the camera's name.
        pattern = stream.prefix + settings.tf_frame_pattern
        try:
            self.rgbd_stats.count('tf_transforms_published',
                                  self.tf_pub.publish(hands, header, pattern))
        except ValueError as error:
            self.stats.count_error('tf', str(error))
            self.problems.warning('tf', str(error))

    def _prepare(self, stream, frame, settings):
        """Convert one camera's frame into a CameraJob, or None (idle or bad input, counted)."""
        wanted = stream.wanted(settings, self.tf_pub)
        if not wanted.any():
            self.stats.count_idle()
            return None
        try:
            image = image_msg_to_bgr(frame.msg, settings.max_image_pixels)
        except ValueError as error:
            self.stats.count_error('bad_image', str(error))
            self.problems.warning('bad_image', f'skipping an image from '
                                  f'{stream.image_sub.topic_name}: {error}')
            return None
        header = frame.msg.header
        stream.frame_id = header.frame_id
        intrinsics = self._intrinsics(stream, header, image.shape, settings)
        depth = self._depth_image(stream, header, image.shape, intrinsics, settings)
        return CameraJob(stream, frame, image, intrinsics, wanted,
                         stamp_seconds(header.stamp) or frame.received, depth)

    def process(self, frames, stop):
        """Run the newest frame of every camera through the hand stream; publish the results."""
        batch = self._begin(frames, self.settings())
        if batch is None:
            return
        try:
            results = self.hand_stream.process(batch.camera_frames(), batch.compute_vertices)
        except (RuntimeError, ValueError) as error:
            self._failed(batch, error)
            return
        self._finish(batch, results, stop)

    def process_overlapped(self, frames, mailbox, stop):
        """
        Like :meth:`process`, then every batch already waiting, each detected during the last.

        The ``overlap`` parameter: :meth:`wilor_ros.hand_stream.HandStream.process_stream`
        queues the detector of the frames that arrived while a batch ran (on a second CUDA
        stream) before waiting for that batch's results. Only frames already in the mailbox
        are taken (never waited for), so an idle camera adds no latency; a batch's results
        wait for the next batch's image conversion and detector launch (host work).
        """
        settings = self.settings()
        begun = collections.deque()

        def batches():
            waiting, first = frames, True
            while waiting and not stop.is_set():
                batch = self._begin(waiting, settings)
                if batch is not None:
                    if not first:
                        self.stats.count_overlapped()
                    first = False
                    begun.append(batch)
                    yield batch.camera_frames()
                waiting = mailbox.take_all(timeout=0)

        def failed(camera_frames, error):
            self._failed(begun.popleft(), error)

        # Vertices always: whether a later batch wants them is not known when the stream
        # starts, and they cost one larger copy.
        for results in self.hand_stream.process_stream(batches(), True, retry=failed):
            if results is not None:
                self._finish(begun.popleft(), results, stop)

    def _begin(self, frames, settings):
        """Prepare a batch: jobs, pipeline settings, graphs; None when no camera wants it."""
        start = time.monotonic()
        jobs = [self._prepare(self.streams[name], frame, settings)
                for name, frame in frames.items() if name in self.streams]
        jobs = [job for job in jobs if job is not None]
        if not jobs:
            return None
        pipeline = self.hand_stream.pipeline
        # Validated already by the parameter descriptors; configure() checks again.
        pipeline.configure(conf=settings.detection_confidence, iou=settings.detection_iou,
                           rescale_factor=settings.rescale_factor, max_hands=settings.max_hands)
        self.hand_stream.configure_tracking(tracking_options(settings))
        for size in sorted({job.image.shape[:2] for job in jobs}):
            # With compile, each camera's size gets its graphs before its first frame runs.
            seconds = pipeline.prepare_for(size, frames=len(self.streams))
            if seconds:
                self.logger.info(f'graphs ready for {size[1]}x{size[0]} images in '
                                 f'{seconds:.1f} s')
        mesh_visible = settings.markers_alpha > 0
        compute_vertices = any((mesh_visible and (job.wanted.markers or job.wanted.debug_image))
                               or ((job.wanted.hands or job.wanted.hands_raw)
                                   and settings.publish_vertices)
                               for job in jobs)
        return _Batch(jobs, settings, start, compute_vertices)

    def _failed(self, batch, error):
        """Count and log a batch the networks could not run (nothing is published for it)."""
        self.stats.count_error('inference', str(error))
        sizes = ', '.join(f'{job.image.shape[1]}x{job.image.shape[0]}' for job in batch.jobs)
        self.problems.error('inference', f'inference failed on {sizes}: {error}')

    def _finish(self, batch, results, stop):
        """Count the pipeline's problems of this batch, then publish every camera's results."""
        pipeline, settings = self.hand_stream.pipeline, batch.settings
        for text in pipeline.graphs.take_warnings():
            self.stats.count_error('graph_miss', text)
            self.problems.warning('graph_miss', text)
        # The pipeline's running count: what it dropped since the last finished batch (with
        # overlap the next batch may have started, but its hands are not collected yet).
        for _ in range(pipeline.non_finite_hands - self.non_finite_seen):
            text = 'a hand with non-finite numbers (inf/NaN) was dropped'
            self.stats.count_error('non_finite_hand', text)
            self.problems.warning('non_finite_hand', f'{text} (a degenerate network output)')
        self.non_finite_seen = pipeline.non_finite_hands
        processing = time.monotonic() - batch.start
        for job, result in zip(batch.jobs, results):
            if stop.is_set():
                return
            self._publish(job, result, settings, processing)
        headers = [job.frame.msg.header for job in batch.jobs]
        for publisher in self.step_publishers:
            if stop.is_set():
                return
            try:
                publisher.publish(results, headers)
            except Exception as error:  # An after-tracking output never stops the hands.
                self.stats.count_error('after_tracking', repr(error))
                self.problems.error('after_tracking', f'{type(publisher).__name__}: {error!r}')

    def _publish(self, job, result, settings, processing):
        msg, stream, wanted = job.frame.msg, job.stream, job.wanted
        stream.last_header = msg.header
        hands = result.hands
        if not self.first_frame_logged:
            self.first_frame_logged = True
            source = 'camera_info K' if job.intrinsics is not None else 'the focal heuristic'
            self.logger.info(
                f'first image: {job.image.shape[1]}x{job.image.shape[0]} '
                f'{getattr(msg, "encoding", "compressed")}, frame {msg.header.frame_id!r}, '
                f'{len(hands)} hand(s), placed with {source}')
        stream.hands_pub.publish(hands_to_msg(hands, msg.header, settings.publish_vertices,
                                              result.outputs.get('gestures')))
        if wanted.hands_raw:
            stream.hands_raw_pub.publish(hands_to_msg(result.raw_hands, msg.header,
                                                      settings.publish_vertices))
        if wanted.tf:
            self._publish_tf(stream, hands, msg.header, settings)
        if wanted.markers:
            stream.markers_pub.publish(hand_markers(hands, msg.header, self.faces,
                                                    settings.marker_style()))
            self.stats.count_published('markers')
        if wanted.debug_image:
            picture = draw_hands(job.image, hands, self.faces,
                                 left_color=settings.markers_left_color,
                                 right_color=settings.markers_right_color,
                                 mesh_alpha=settings.markers_alpha)
            stream.debug_pub.publish(bgr_image_msg(picture, msg.header))
            self.stats.count_published('debug_image')
        if job.depth is not None:
            self.rgbd_stats.count_hands(hands)
        self.stats.count_processed(processing, time.monotonic() - job.frame.received, len(hands))
