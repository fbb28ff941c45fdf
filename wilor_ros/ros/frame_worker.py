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
:class:`Job` (image converted, camera matrix and depth image paired, outputs wanted); all jobs go
through the pipeline as one batch, then each camera's hands are tracked and published with that
camera's header. :class:`FrameWorker` is mixed into the node class; it uses the node's
publishers, statistics and logger and nothing else of it.
"""

import functools
import time

from wilor_ros.debug_overlay import draw_hands
from wilor_ros.image_conversion import image_msg_to_bgr
from wilor_ros.ros.markers import hand_markers
from wilor_ros.ros.messages import bgr_image_msg, hands_to_msg, stamp_seconds


class Job:
    """One camera's frame in a batch: the image, its camera and the outputs wanted."""

    __slots__ = ('stream', 'frame', 'image', 'intrinsics', 'wanted', 'stamp', 'depth')

    def __init__(self, stream, frame, image, intrinsics, wanted, stamp, depth):
        """Bundle the parts of one frame's work."""
        self.stream, self.frame, self.image = stream, frame, image
        self.intrinsics, self.wanted, self.stamp, self.depth = intrinsics, wanted, stamp, depth


class FrameWorker:
    """The worker thread's loop and the processing of one batch (a mixin of the node)."""

    def _run_worker(self):
        while not self._stop.is_set():
            frames = self._mailbox.take_all(timeout=0.25)
            if not frames or self._stop.is_set():
                continue
            try:
                self._process(frames)
            except Exception as error:  # The worker must outlive any single batch.
                if self._stop.is_set() or not self.context.ok():
                    return  # Shutting down: publishers may already be gone.
                self.stats.count_error('internal', repr(error))
                self._problems.error('internal', f'frame failed: {error!r}')

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
            self._problems.warning(kind, f'{stream.camera_info_sub.topic_name}: {text}; using '
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
            self._problems.warning(kind, text)
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
            self._problems.warning('tf', str(error))

    def _tracker(self, stream, settings):
        if not settings.tracking_enabled:
            return None
        from wilor_ros.smoothing import SmoothingConfig
        from wilor_ros.tracking import HandTracker

        smoothing = (SmoothingConfig(min_cutoff=settings.smoothing_min_cutoff,
                                     beta=settings.smoothing_beta)
                     if settings.smoothing_enabled else None)
        if stream.tracker is None:
            stream.tracker = HandTracker(max_missed=settings.tracking_max_missed,
                                         smoothing=smoothing,
                                         side_hysteresis=settings.tracking_side_hysteresis,
                                         max_speed=settings.smoothing_max_speed)
        else:
            stream.tracker.configure(max_missed=settings.tracking_max_missed,
                                     smoothing=smoothing,
                                     side_hysteresis=settings.tracking_side_hysteresis,
                                     max_speed=settings.smoothing_max_speed)
        return stream.tracker

    def _prepare(self, stream, frame, settings):
        """Convert one camera's frame into a Job, or None (idle or bad input, counted)."""
        wanted = stream.wanted(settings, self.tf_pub)
        if not any(wanted):
            self.stats.count_idle()
            return None
        try:
            image = image_msg_to_bgr(frame.msg, settings.max_image_pixels)
        except ValueError as error:
            self.stats.count_error('bad_image', str(error))
            self._problems.warning('bad_image', f'skipping an image from '
                                   f'{stream.image_sub.topic_name}: {error}')
            return None
        header = frame.msg.header
        intrinsics = self._intrinsics(stream, header, image.shape, settings)
        depth = self._depth_image(stream, header, image.shape, intrinsics, settings)
        return Job(stream, frame, image, intrinsics, wanted,
                   stamp_seconds(header.stamp) or frame.received, depth)

    def _process(self, frames):
        settings = self.settings
        start = time.monotonic()
        jobs = [self._prepare(self.streams[name], frame, settings)
                for name, frame in frames.items() if name in self.streams]
        jobs = [job for job in jobs if job is not None]
        if not jobs:
            return
        pipeline = self.pipeline
        # Validated already by the parameter descriptors; configure() checks again.
        pipeline.configure(conf=settings.detection_confidence, iou=settings.detection_iou,
                           rescale_factor=settings.rescale_factor, max_hands=settings.max_hands)
        mesh_visible = settings.markers_alpha > 0
        compute_vertices = any((mesh_visible and (markers or debug))
                               or ((hands or raw) and settings.publish_vertices)
                               for hands, raw, markers, debug, _ in (job.wanted for job in jobs))
        # Each camera's tracker decides the sides of its hands before cropping, so a
        # one-frame label flip of the detector never mirrors a mesh.
        trackers = [self._tracker(job.stream, settings) for job in jobs]
        sides = [None if tracker is None else functools.partial(tracker.resolve_sides,
                                                                stamp=job.stamp)
                 for job, tracker in zip(jobs, trackers)]
        non_finite_before = pipeline.non_finite_hands
        try:
            results = pipeline.process_batch([job.image for job in jobs],
                                             [job.intrinsics for job in jobs],
                                             compute_vertices=compute_vertices,
                                             depths=[job.depth for job in jobs], sides=sides)
        except (RuntimeError, ValueError) as error:
            self.stats.count_error('inference', str(error))
            sizes = ', '.join(f'{job.image.shape[1]}x{job.image.shape[0]}' for job in jobs)
            self._problems.error('inference', f'inference failed on {sizes}: {error}')
            return
        for _ in range(pipeline.non_finite_hands - non_finite_before):
            text = 'a hand with non-finite numbers (inf/NaN) was dropped'
            self.stats.count_error('non_finite_hand', text)
            self._problems.warning('non_finite_hand', f'{text} (a degenerate network output)')
        processing = time.monotonic() - start
        for job, tracker, hands in zip(jobs, trackers, results):
            if self._stop.is_set():
                return
            self._publish(job, tracker, hands, settings, processing)

    def _publish(self, job, tracker, hands, settings, processing):
        msg, stream = job.frame.msg, job.stream
        stream.last_header = msg.header
        _, want_raw, want_markers, want_debug, want_tf = job.wanted
        if not self._first_frame_logged:
            self._first_frame_logged = True
            source = 'camera_info K' if job.intrinsics is not None else 'the focal heuristic'
            self.get_logger().info(
                f'first image: {job.image.shape[1]}x{job.image.shape[0]} '
                f'{getattr(msg, "encoding", "compressed")}, frame {msg.header.frame_id!r}, '
                f'{len(hands)} hand(s), placed with {source}')
        raw = hands
        if tracker is not None:
            hands = tracker.update(hands, job.stamp)
            raw = tracker.last_raw
        stream.hands_pub.publish(hands_to_msg(hands, msg.header, settings.publish_vertices))
        if want_raw:
            stream.hands_raw_pub.publish(hands_to_msg(raw, msg.header,
                                                      settings.publish_vertices))
        if want_tf:
            self._publish_tf(stream, hands, msg.header, settings)
        if want_markers:
            stream.markers_pub.publish(hand_markers(hands, msg.header, self.faces,
                                                    settings.marker_style()))
            self.stats.count_published('markers')
        if want_debug:
            picture = draw_hands(job.image, hands, self.faces,
                                 left_color=settings.markers_left_color,
                                 right_color=settings.markers_right_color,
                                 mesh_alpha=settings.markers_alpha)
            stream.debug_pub.publish(bgr_image_msg(picture, msg.header))
            self.stats.count_published('debug_image')
        if job.depth is not None:
            self.rgbd_stats.count_hands(hands)
        self.stats.count_processed(processing, time.monotonic() - job.frame.received, len(hands))
