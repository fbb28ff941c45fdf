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
One camera served by wilor_node: its topics in, its topics out, its CameraInfo and its tracker.

A camera named ``left`` reads ``left/image`` (or ``left/image/compressed``),
``left/camera_info`` and ``left/depth_image`` and writes ``left/hands``, ``left/hands_raw``,
``left/markers`` and ``left/debug_image``; the camera named ``''`` uses the node's own
``image``, ``hands``, ... All names are relative, so the node's namespace and remappings
apply. Publishers are lifecycle publishers (created at configure, active between activate and
deactivate); subscriptions exist only while the node is active.
"""

import dataclasses

from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray
from wilor_msgs.msg import HandArray

from wilor_ros.ros.camera_info import CameraInfoCache
from wilor_ros.ros.depth_sync import DepthMatcher
from wilor_ros.ros.image_qos import image_qos


class CameraStream:
    """The topics and per-camera state of one camera (see the module docstring)."""

    def __init__(self, node, name):
        """Create the lifecycle publishers of camera ``name`` on ``node``."""
        self.name = name
        self.prefix = f'{name}/' if name else ''
        self.label = name or 'default'
        self.camera_infos = CameraInfoCache()
        self.depths = DepthMatcher()
        self.last_header = None  # of the last published frame (to clear its markers)
        # Optical frame of the latest image taken for processing (camera poses look it up).
        self.frame_id = ''
        self.received = 0
        self.dropped = 0
        self.image_sub = self.camera_info_sub = self.depth_sub = None
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.hands_pub = node.create_lifecycle_publisher(HandArray, self.prefix + 'hands',
                                                         reliable)
        self.hands_raw_pub = node.create_lifecycle_publisher(
            HandArray, self.prefix + 'hands_raw', reliable)
        self.markers_pub = node.create_lifecycle_publisher(MarkerArray,
                                                           self.prefix + 'markers', reliable)
        # Reliable, so that reliable (recorders) and best-effort (RViz) subscribers both match;
        # keep-last 2 never blocks the worker on a slow subscriber.
        self.debug_pub = node.create_lifecycle_publisher(
            Image, self.prefix + 'debug_image',
            QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))

    def subscribe(self, node, image_transport, on_image, reliability='best_effort'):
        """
        Create the subscriptions; ``on_image(stream, msg)`` receives every image.

        ``reliability`` (best_effort or reliable) is that of the image, camera_info and depth
        image.
        """
        def callback(msg):
            on_image(self, msg)

        images = image_qos(reliability)
        overrides = QoSOverridingOptions.with_default_policies()
        if image_transport == 'compressed':
            # As image_transport names it: the base topic (after remapping) + '/compressed'.
            # (Node.resolve_topic_name may be missing from older rclpy releases.)
            resolve = getattr(node, 'resolve_topic_name', None)
            base = self.prefix + 'image'
            topic = f'{resolve(base)}/compressed' if resolve else f'{base}/compressed'
            self.image_sub = node.create_subscription(
                CompressedImage, topic, callback, images, qos_overriding_options=overrides)
        else:
            self.image_sub = node.create_subscription(
                Image, self.prefix + 'image', callback, images,
                qos_overriding_options=overrides)
        # Best effort matches reliable and best-effort camera_info publishers alike; with
        # reliable images the camera's camera_info is reliable too, and must not be lost.
        self.camera_info_sub = node.create_subscription(
            CameraInfo, self.prefix + 'camera_info', self.camera_infos.add, images,
            qos_overriding_options=QoSOverridingOptions.with_default_policies())
        self.depth_sub = node.create_subscription(
            Image, self.prefix + 'depth_image', self.depths.add, images,
            qos_overriding_options=QoSOverridingOptions.with_default_policies())

    def unsubscribe(self, node):
        """Destroy the subscriptions (deactivation)."""
        for subscription in (self.image_sub, self.camera_info_sub, self.depth_sub):
            if subscription is not None:
                node.destroy_subscription(subscription)
        self.image_sub = self.camera_info_sub = self.depth_sub = None

    def destroy(self, node):
        """Destroy the subscriptions and publishers (cleanup, shutdown)."""
        self.unsubscribe(node)
        for publisher in (self.hands_pub, self.hands_raw_pub, self.markers_pub,
                          self.debug_pub):
            # destroy_lifecycle_publisher is missing from some rclpy releases (Humble).
            getattr(node, 'destroy_lifecycle_publisher', node.destroy_publisher)(publisher)

    def wanted(self, settings, tf_publisher):
        """Return the outputs wanted now (someone subscribes and the parameters allow it)."""
        return WantedOutputs(
            hands=self.hands_pub.get_subscription_count() > 0,
            hands_raw=self.hands_raw_pub.get_subscription_count() > 0,
            markers=settings.publish_markers and self.markers_pub.get_subscription_count() > 0,
            debug_image=(settings.publish_debug_image
                         and self.debug_pub.get_subscription_count() > 0),
            tf=settings.publish_tf and tf_publisher.subscribed())


@dataclasses.dataclass(frozen=True)
class WantedOutputs:
    """Which of a camera's outputs a frame must produce."""

    hands: bool
    hands_raw: bool
    markers: bool
    debug_image: bool
    tf: bool

    def any(self):  # noqa: A003 (reads as the question it answers)
        """Return True when at least one output is wanted."""
        return any(dataclasses.astuple(self))
