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
``wilor_node``: WiLoR 3D hand reconstruction on ROS 2 camera streams, as a lifecycle node.

Lifecycle (as yolo_ros and hri_face_detect): *configure* checks the parameters and loads the
networks, creates the publishers and the diagnostics; *activate* subscribes, starts the
inference worker and publishes the MANO faces; *deactivate* unsubscribes, stops the worker and,
on a GPU, frees the networks' memory (reloaded on the next activate); *cleanup* and *shutdown*
release everything. ``autostart:=true`` configures and activates at start-up (``ros2 run``,
``scripts/run.sh``); the launch file drives the transitions itself.

Topics per camera (``cameras`` parameter; relative names, so namespaces and remapping apply;
the camera ``''`` uses the names below as they are, camera ``left`` prefixes them ``left/``):

* ``image`` (sensor_msgs/Image, sensor-data QoS, or reliable with
  ``image_reliability:=reliable``; per topic the ``qos_overrides`` parameters apply), or with
  ``image_transport:=compressed`` ``<image>/compressed`` (sensor_msgs/CompressedImage, decoded
  here);
* ``camera_info`` (sensor_msgs/CameraInfo): its K places the hands metrically;
* ``depth_image`` (sensor_msgs/Image 16UC1 mm / 32FC1 m, aligned to ``image``, the QoS of
  ``image``): paired by stamp, it puts the hands at the measured depth (README, RGB-D);
* -> ``hands`` (wilor_msgs/HandArray, reliable; header copied from the image) and
  ``hands_raw`` (the same hands unfiltered, built only while subscribed);
* -> ``markers`` (visualization_msgs/MarkerArray, reliable) and ``debug_image``
  (sensor_msgs/Image bgr8, reliable keep-last 2), each built only while someone subscribes.

Per node: -> ``mano_faces`` (wilor_msgs/MeshFaces, transient local, published on activation);
-> ``/tf`` (tf2_msgs/TFMessage): a wrist frame per hand (:mod:`wilor_ros.ros.hand_tf`; the
frames of camera ``left`` are named ``left/<tf.frame_pattern>``);
-> ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, 1 Hz).

Threads: the subscription callbacks only store the newest image of each camera; an image
replaced before the worker took it counts as dropped (per camera). The worker takes the newest
frame of every camera that has one, runs them through the detector and the reconstructor as one
batch (one model in memory for all cameras) and publishes each camera's hands with that
camera's header, so frames never queue up and the executor keeps serving parameter requests
while a batch is being reconstructed. Parameters: :mod:`wilor_ros.ros.node_parameters` and
``config/wilor.yaml``.
"""

import gc
import re
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, KeyValue
import numpy as np
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from wilor_msgs.msg import MeshFaces

from wilor_ros.ros.after_tracking import build_after_tracking
from wilor_ros.ros.camera_stream import CameraStream
from wilor_ros.ros.frame_mailbox import Frame, LatestFrames
from wilor_ros.ros.frame_worker import FrameWorker, tracking_options
from wilor_ros.ros.hand_tf import HandTfPublisher
from wilor_ros.ros.markers import clear_markers
from wilor_ros.ros.messages import mesh_faces_msg
from wilor_ros.ros.node_diagnostics import diagnostic_status, FrameStatistics, graph_key_values
from wilor_ros.ros.node_parameters import (declare_parameters, NodeSettings,
                                           validate_parameters)
from wilor_ros.ros.node_startup import build_pipeline, logged_transition, StartupError
from wilor_ros.ros.rgbd_diagnostics import RgbdStatistics
from wilor_ros.ros.shutdown import shutdown_ends_spin, StopSignals
from wilor_ros.ros.throttled_log import KindThrottledLogger

WARNING_PERIOD = 5.0
DIAGNOSTICS_PERIOD = 1.0


class WilorNode(LifecycleNode):
    """Images (+ camera_info) of one or more cameras in; hands, markers, debug images out."""

    def __init__(self, **kwargs):
        """Declare and check the parameters; the transitions do the rest."""
        super().__init__('wilor_node', **kwargs)
        self.settings = None
        self.pipeline = None
        self.faces = None
        self.streams = {}
        self.stats = FrameStatistics()
        self.rgbd_stats = RgbdStatistics()
        self.tf_pub = None
        self._mailbox = LatestFrames()
        self._stop = threading.Event()
        self._worker = None
        # Pipeline, per-camera trackers and after-tracking steps (wilor_ros.hand_stream).
        self.hand_stream = None
        self._step_publishers = []
        # One throttle per kind of problem, so a second kind within the period is logged too.
        self._problems = KindThrottledLogger(self.get_logger(), WARNING_PERIOD)
        self._faces_pub = self._diagnostics_pub = self._diagnostics_timer = None
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

    # Lifecycle transitions (executor thread) -----------------------------------------------

    @logged_transition
    def on_configure(self, state):
        """Load the networks; create the publishers and the diagnostics timer."""
        try:
            self.pipeline = build_pipeline(self.settings, self.get_logger())
        except StartupError as error:
            self.get_logger().fatal(str(error))
            return TransitionCallbackReturn.FAILURE
        self.faces = np.asarray(self.pipeline.faces)
        from wilor_ros.hand_stream import HandStream

        try:
            steps, self._step_publishers = build_after_tracking(self, self.settings)
        except ValueError as error:
            self.get_logger().fatal(str(error))
            self._release_pipeline()
            return TransitionCallbackReturn.FAILURE
        self.hand_stream = HandStream(self.pipeline, tracking_options(self.settings), steps)
        self.streams = {name: CameraStream(self, name) for name in self.settings.cameras}
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._faces_pub = self.create_lifecycle_publisher(MeshFaces, 'mano_faces', latched)
        # /diagnostics is a plain publisher: it reports the inactive state too.
        self._diagnostics_pub = self.create_publisher(
            DiagnosticArray, '/diagnostics',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD,
                                                    self._publish_diagnostics)
        self.tf_pub = HandTfPublisher(self)
        return TransitionCallbackReturn.SUCCESS

    @logged_transition
    def on_activate(self, state):
        """Subscribe, start the worker and publish the mesh faces."""
        if self.pipeline is None:  # Released by a deactivation on a GPU.
            try:
                self.pipeline = build_pipeline(self.settings, self.get_logger())
            except StartupError as error:
                self.get_logger().error(str(error))
                return TransitionCallbackReturn.FAILURE
        self.hand_stream.pipeline = self.pipeline
        result = super().on_activate(state)  # Activates the lifecycle publishers.
        faces_msg = mesh_faces_msg(self.faces)
        faces_msg.header.stamp = self.get_clock().now().to_msg()
        self._faces_pub.publish(faces_msg)
        self._stop.clear()
        self._mailbox.reopen()
        for stream in self.streams.values():
            stream.subscribe(self, self.settings.image_transport, self._on_image,
                             self.settings.image_reliability)
        worker = FrameWorker(self.hand_stream, self.streams, self.stats, self.rgbd_stats,
                             self._problems, self.get_logger(), self.tf_pub, self.faces,
                             lambda: self.settings, self._step_publishers)
        self._worker = threading.Thread(target=worker.run, name='wilor_inference',
                                        args=(self._mailbox, self._stop, self.context.ok),
                                        daemon=True)
        self._worker.start()
        inputs = ', '.join(s.image_sub.topic_name for s in self.streams.values())
        outputs = ', '.join(s.hands_pub.topic_name for s in self.streams.values())
        self.get_logger().info(f'active: waiting for images on {inputs}; publishing {outputs}')
        return result

    @logged_transition
    def on_deactivate(self, state):
        """Unsubscribe and stop the worker; on a GPU release the networks' memory."""
        for stream in self.streams.values():
            stream.unsubscribe(self)
        self._stop_worker()
        self._mailbox.clear()
        for stream in self.streams.values():
            # Markers stay until replaced: take the hands of the last frame out of RViz.
            if stream.last_header is not None:
                stream.markers_pub.publish(clear_markers(stream.last_header))
        if self.pipeline is not None and self.pipeline.device.type == 'cuda':
            self._release_pipeline()
        return super().on_deactivate(state)

    @logged_transition
    def on_cleanup(self, state):
        """Release the networks, publishers and timers (back to unconfigured)."""
        self._release_everything()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        """Release everything before the node goes away."""
        self._stop_worker()
        self._release_everything()
        return TransitionCallbackReturn.SUCCESS

    def _stop_worker(self):
        self._stop.set()
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=30.0)
            self._worker = None

    def _release_pipeline(self):
        device = self.pipeline.device
        self.pipeline = None
        if self.hand_stream is not None:
            self.hand_stream.pipeline = None
        gc.collect()
        if device.type == 'cuda':
            import torch

            torch.cuda.empty_cache()

    def _release_everything(self):
        for stream in self.streams.values():
            stream.destroy(self)
        self.streams = {}
        if self._faces_pub is not None:
            getattr(self, 'destroy_lifecycle_publisher', self.destroy_publisher)(self._faces_pub)
            self._faces_pub = None
        if self.tf_pub is not None:
            self.tf_pub.destroy(self)
            self.tf_pub = None
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self.destroy_publisher(self._diagnostics_pub)
            self._diagnostics_timer = self._diagnostics_pub = None
        if self.pipeline is not None:
            self._release_pipeline()
        for publisher in self._step_publishers:
            publisher.destroy(self)
        self._step_publishers = []
        self.hand_stream = None

    # Executor thread -----------------------------------------------------------------------

    def _on_image(self, stream, msg):
        dropped = self._mailbox.put(stream.name, Frame(msg, time.monotonic()))
        stream.received += 1
        stream.dropped += int(dropped)
        self.stats.count_received(dropped)

    def _publish_diagnostics(self):
        # Stamped before the counters are read: a status stamped after a moment counts
        # everything that happened before that moment.
        stamp = self.get_clock().now().to_msg()
        streams = list(self.streams.values())
        topics = ', '.join(s.image_sub.topic_name for s in streams if s.image_sub is not None)
        settings = self.settings
        status = diagnostic_status(
            self.stats.report(window=settings.diagnostics_window),
            name=f'{self.get_name()}: hand reconstruction',
            hardware_id=str(self.pipeline.device if self.pipeline is not None else 'released'),
            image_topic=topics or 'nothing (node inactive)',
            stall_timeout=settings.diagnostics_stall_timeout,
            latency_budget=settings.diagnostics_latency_budget)
        # The RGB-D and filter values; filter restarts summed over the cameras' trackers.
        trackers = self.hand_stream.trackers.values() if self.hand_stream is not None else ()
        restarts = sum(tracker.filter_resets for tracker in trackers)
        status.values += self.rgbd_stats.key_values(self.settings, restarts)
        status.values += graph_key_values(self.pipeline)
        for publisher in self._step_publishers:
            # After-tracking steps that count something (fusion: out-of-sync frames, ...).
            report = getattr(publisher, 'diagnostics', None)
            if report is not None:
                status.values += [KeyValue(key=key, value=str(value))
                                  for key, value in report().items()]
        if len(streams) > 1:
            for stream in streams:
                status.values.append(KeyValue(key=f'camera.{stream.label}.frames_received',
                                              value=str(stream.received)))
                status.values.append(KeyValue(key=f'camera.{stream.label}.frames_dropped',
                                              value=str(stream.dropped)))
        array = DiagnosticArray(status=[status])
        array.header.stamp = stamp
        self._diagnostics_pub.publish(array)

    def destroy_node(self):
        """Stop the worker thread (it finishes its batch), then destroy the node."""
        self._stop_worker()
        super().destroy_node()


def ros_arguments_problem(error):
    """Return rcl's error for malformed ``--ros-args`` as one line, without C source places."""
    text = re.sub(r',? at [^,]*\.c:\d+', '', str(error))
    return text.replace('failed to initialize rcl: ', '').strip()


def start(node, logger):
    """Configure and activate ``node`` with ``autostart``; else say what it waits for."""
    if not node.settings.autostart:
        logger.info('unconfigured: waiting for the lifecycle transitions configure and '
                    'activate (or start with -p autostart:=true)')
        return
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        raise StartupError('configuration failed (see above)')
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        raise StartupError('activation failed (see above)')


def main(args=None, early_signals=None):
    """Run ``wilor_node`` until Ctrl-C; return the exit status (1: cannot start, 2: bad args)."""
    from rclpy.impl.implementation_singleton import rclpy_implementation

    # Before rclpy.init, whose handlers then call these: one quiet stop for any number of
    # Ctrl-C / SIGTERM, and a stop during start-up abandons loading the weights.
    stop = StopSignals(early_signals)
    try:
        rclpy.init(args=args)
    except rclpy_implementation.RCLError as error:
        # Before init there is no node logger; the line keeps the format of rclpy's.
        print(f'[FATAL] [wilor_node]: invalid --ros-args: {ros_arguments_problem(error)}',
              file=sys.stderr)
        return 2
    logger = rclpy.logging.get_logger('wilor_node')
    status = 0
    with stop.running():
        try:
            with stop.armed():
                stop.node = WilorNode()
                logger = stop.node.get_logger()
                start(stop.node, logger)
                with shutdown_ends_spin():
                    rclpy.spin(stop.node)
        except (StartupError, ParameterException, rclpy_implementation.RCLError) as error:
            # After a stop the shut-down context fails whatever used it at that moment: no
            # failure, and nothing is logged (a log line through a dead context is itself an
            # error).
            if stop.requested is None:
                if isinstance(error, rclpy_implementation.RCLError):
                    raise
                if isinstance(error, ParameterException):
                    logger.fatal(f'invalid parameter: {error}')
                elif 'see above' not in str(error):
                    logger.fatal(str(error))
                status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
