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
``wilor_node``: WiLoR 3D hand reconstruction on a ROS 2 camera stream.

Topics (relative, so namespaces and remapping apply):

* ``image`` (sensor_msgs/Image, sensor-data QoS, changeable with the ``qos_overrides``
  parameters), or with ``image_transport:=compressed`` ``<image>/compressed``
  (sensor_msgs/CompressedImage, decoded here);
* ``camera_info`` (sensor_msgs/CameraInfo): its K places the hands metrically;
* -> ``hands`` (wilor_msgs/HandArray, reliable; header copied from the image);
* -> ``markers`` (visualization_msgs/MarkerArray, reliable) and ``debug_image``
  (sensor_msgs/Image bgr8, reliable keep-last 2), each built only while someone subscribes;
* -> ``mano_faces`` (wilor_msgs/MeshFaces, transient local, published once);
* -> ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, 1 Hz).

Threads: the subscription callbacks only store the newest image; an image replaced before
the worker took it counts as dropped. The worker thread converts and reconstructs the newest
frame, so frames never queue up and the executor keeps serving parameter requests and
callbacks while a frame is being reconstructed. Parameters: :mod:`wilor_ros.ros.node_parameters`
and ``config/wilor.yaml``.
"""

import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray
from wilor_msgs.msg import HandArray, MeshFaces

from wilor_ros.debug_overlay import draw_hands
from wilor_ros.image_conversion import image_msg_to_bgr
from wilor_ros.ros.camera_info import CameraInfoCache
from wilor_ros.ros.frame_mailbox import Frame, LatestFrame
from wilor_ros.ros.markers import hand_markers
from wilor_ros.ros.messages import bgr_image_msg, hands_to_msg, mesh_faces_msg
from wilor_ros.ros.node_diagnostics import diagnostic_status, FrameStatistics
from wilor_ros.ros.node_parameters import (declare_parameters, NodeSettings,
                                           validate_parameters)

# Seconds between two warnings of the same kind (bad images can arrive at camera rate).
WARNING_PERIOD = 5.0
DIAGNOSTICS_PERIOD = 1.0


class StartupError(RuntimeError):
    """The node cannot start (missing weights, unusable device); the message says why."""


def stamp_seconds(header):
    """Header stamp in seconds (0.0 when the publisher left it unset)."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def build_pipeline(settings, logger):
    """Load both networks with the node's settings (:func:`wilor_ros.pipeline.load_pipeline`)."""
    from wilor_ros.pipeline import load_pipeline, PipelineLoadError

    detector_path, reconstructor_path = settings.weight_paths()
    try:
        pipeline = load_pipeline(
            detector_path, reconstructor_path, device=settings.device,
            precision=settings.precision, conf=settings.detection_confidence,
            iou=settings.detection_iou, rescale_factor=settings.rescale_factor,
            max_hands=settings.max_hands)
    except PipelineLoadError as error:
        raise StartupError(str(error)) from None
    logger.info(f'loaded {detector_path} and {reconstructor_path} on {pipeline.device} '
                f'({settings.precision})')
    return pipeline


class WilorNode(Node):
    """Image (+ camera_info) in; hands, markers, debug image and diagnostics out."""

    def __init__(self, **kwargs):
        """Declare and check the parameters; :meth:`start` loads the networks."""
        super().__init__('wilor_node', **kwargs)
        self.settings = None
        self.pipeline = None
        self.faces = None
        self.tracker = None
        self.stats = FrameStatistics()
        self._latest = LatestFrame()
        self._camera_infos = CameraInfoCache()
        self._stop = threading.Event()
        self._worker = None
        self._first_frame_logged = False
        self.add_on_set_parameters_callback(self._on_set_parameters)
        declare_parameters(self)
        self.settings = NodeSettings.from_node(self)

    def _on_set_parameters(self, parameters):
        # rclpy has checked types, ranges and read-only before this runs; what passes here
        # is set, so the new snapshot is taken now (add_post_set_parameters_callback does
        # not exist on Humble).
        result = validate_parameters(parameters)
        if result.successful and self.settings is not None:
            self.settings = self.settings.updated(parameters)
        return result

    def start(self):
        """Load the networks, create the topics and start the worker thread."""
        settings = self.settings
        self.pipeline = build_pipeline(settings, self.get_logger())
        self.faces = np.asarray(self.pipeline.faces)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.hands_pub = self.create_publisher(HandArray, 'hands', reliable)
        self.markers_pub = self.create_publisher(MarkerArray, 'markers', reliable)
        # Reliable, so that reliable (recorders) and best-effort (RViz) subscribers both match;
        # keep-last 2 never blocks the worker on a slow subscriber.
        self.debug_pub = self.create_publisher(
            Image, 'debug_image', QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', reliable)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.faces_pub = self.create_publisher(MeshFaces, 'mano_faces', latched)
        faces_msg = mesh_faces_msg(self.faces)
        faces_msg.header.stamp = self.get_clock().now().to_msg()
        self.faces_pub.publish(faces_msg)

        overrides = QoSOverridingOptions.with_default_policies()
        if settings.image_transport == 'compressed':
            # As image_transport names it: the base topic (after remapping) + '/compressed'.
            # (Node.resolve_topic_name may be missing from older rclpy releases.)
            resolve = getattr(self, 'resolve_topic_name', None)
            topic = f'{resolve("image")}/compressed' if resolve else 'image/compressed'
            self.image_sub = self.create_subscription(
                CompressedImage, topic, self._on_image, qos_profile_sensor_data,
                qos_overriding_options=overrides)
        else:
            self.image_sub = self.create_subscription(
                Image, 'image', self._on_image, qos_profile_sensor_data,
                qos_overriding_options=overrides)
        # Best effort matches reliable and best-effort camera_info publishers alike.
        self.camera_info_sub = self.create_subscription(
            CameraInfo, 'camera_info', self._on_camera_info, qos_profile_sensor_data,
            qos_overriding_options=QoSOverridingOptions.with_default_policies())

        self._worker = threading.Thread(target=self._run_worker, name='wilor_inference',
                                        daemon=True)
        self._worker.start()
        self.diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD, self._publish_diagnostics)
        self.get_logger().info(
            f'waiting for images on {self.image_sub.topic_name} (camera_info: '
            f'{self.camera_info_sub.topic_name}); publishing {self.hands_pub.topic_name}, '
            f'{self.markers_pub.topic_name}, {self.debug_pub.topic_name}')

    # Executor thread -----------------------------------------------------------------------

    def _on_image(self, msg):
        self.stats.count_received(self._latest.put(Frame(msg, time.monotonic())))

    def _on_camera_info(self, msg):
        self._camera_infos.add(msg)

    def _publish_diagnostics(self):
        settings = self.settings
        status = diagnostic_status(self.stats.report(window=settings.diagnostics_window),
                                   name=f'{self.get_name()}: hand reconstruction',
                                   hardware_id=str(self.pipeline.device),
                                   image_topic=self.image_sub.topic_name,
                                   stall_timeout=settings.diagnostics_stall_timeout,
                                   latency_budget=settings.diagnostics_latency_budget)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    # Worker thread -------------------------------------------------------------------------

    def _run_worker(self):
        while not self._stop.is_set():
            frame = self._latest.take(timeout=0.25)
            if frame is None or self._stop.is_set():
                continue
            try:
                self._process(frame)
            except Exception as error:  # The worker must outlive any single frame.
                if self._stop.is_set() or not self.context.ok():
                    return  # Shutting down: publishers may already be gone.
                self.stats.count_error('internal', repr(error))
                self.get_logger().error(f'frame failed: {error!r}',
                                        throttle_duration_sec=WARNING_PERIOD)

    def _camera_matrix(self, header, image_shape, settings):
        """Return the intrinsics to use for this image, or None for WiLoR's focal heuristic."""
        if not settings.use_camera_info:
            return None
        height, width = image_shape[:2]
        intrinsics, problem = self._camera_infos.intrinsics_for(header, width, height)
        if problem is not None:
            kind, text = problem
            self.stats.count_error(kind, text)
            self.get_logger().warning(f'{text}; using the focal heuristic',
                                      throttle_duration_sec=WARNING_PERIOD)
        return intrinsics

    def _update_tracker(self, settings):
        if not settings.tracking_enabled:
            return None
        from wilor_ros.smoothing import SmoothingConfig
        from wilor_ros.tracking import HandTracker

        smoothing = (SmoothingConfig(min_cutoff=settings.smoothing_min_cutoff,
                                     beta=settings.smoothing_beta)
                     if settings.smoothing_enabled else None)
        if self.tracker is None:
            self.tracker = HandTracker(max_missed=settings.tracking_max_missed,
                                       smoothing=smoothing)
        else:
            self.tracker.configure(max_missed=settings.tracking_max_missed, smoothing=smoothing)
        return self.tracker

    def _process(self, frame):
        settings = self.settings
        start = time.monotonic()
        msg = frame.msg
        want_markers = settings.publish_markers and self.markers_pub.get_subscription_count() > 0
        want_debug = settings.publish_debug_image and self.debug_pub.get_subscription_count() > 0
        want_hands = self.hands_pub.get_subscription_count() > 0
        if not (want_hands or want_markers or want_debug):
            self.stats.count_idle()
            return
        try:
            image = image_msg_to_bgr(msg, settings.max_image_pixels)
        except ValueError as error:
            self.stats.count_error('bad_image', str(error))
            self.get_logger().warning(f'skipping an image from {self.image_sub.topic_name}: '
                                      f'{error}', throttle_duration_sec=WARNING_PERIOD)
            return
        camera_matrix = self._camera_matrix(msg.header, image.shape, settings)
        mesh_visible = settings.markers_alpha > 0 and (want_markers or want_debug)
        pipeline = self.pipeline
        # Validated already by the parameter descriptors; configure() checks again.
        pipeline.configure(conf=settings.detection_confidence, iou=settings.detection_iou,
                           rescale_factor=settings.rescale_factor, max_hands=settings.max_hands)
        try:
            hands = pipeline(image, camera_matrix=camera_matrix,
                             compute_vertices=bool(mesh_visible or (
                                 want_hands and settings.publish_vertices)))
        except (RuntimeError, ValueError) as error:
            self.stats.count_error('inference', str(error))
            self.get_logger().error(f'inference failed on a {image.shape[1]}x{image.shape[0]} '
                                    f'image: {error}', throttle_duration_sec=WARNING_PERIOD)
            return
        if not self._first_frame_logged:
            self._first_frame_logged = True
            source = 'camera_info K' if camera_matrix is not None else 'the focal heuristic'
            self.get_logger().info(
                f'first image: {image.shape[1]}x{image.shape[0]} '
                f'{getattr(msg, "encoding", "compressed")}, frame {msg.header.frame_id!r}, '
                f'{len(hands)} hand(s), placed with {source}')
        tracker = self._update_tracker(settings)
        if tracker is not None:
            stamp = stamp_seconds(msg.header) or frame.received
            hands = tracker.update(hands, stamp)
        if self._stop.is_set():
            return
        self.hands_pub.publish(hands_to_msg(hands, msg.header, settings.publish_vertices))
        if want_markers:
            self.markers_pub.publish(hand_markers(hands, msg.header, self.faces,
                                                  settings.marker_style()))
            self.stats.count_published('markers')
        if want_debug:
            picture = draw_hands(image, hands, self.faces,
                                 left_color=settings.markers_left_color,
                                 right_color=settings.markers_right_color,
                                 mesh_alpha=settings.markers_alpha)
            self.debug_pub.publish(bgr_image_msg(picture, msg.header))
            self.stats.count_published('debug_image')
        done = time.monotonic()
        self.stats.count_processed(done - start, done - frame.received, len(hands))

    def destroy_node(self):
        """Stop the worker thread (it finishes its frame), then destroy the node."""
        self._stop.set()
        self._latest.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
        super().destroy_node()


def main(args=None):
    """Run ``wilor_node`` until Ctrl-C; return the exit status (1 when it cannot start)."""
    rclpy.init(args=args)
    logger = rclpy.logging.get_logger('wilor_node')
    node = None
    status = 0
    try:
        node = WilorNode()
        logger = node.get_logger()
        node.start()
        rclpy.spin(node)
    except StartupError as error:
        logger.fatal(str(error))
        status = 1
    except ParameterException as error:
        logger.fatal(f'invalid parameter: {error}')
        status = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
