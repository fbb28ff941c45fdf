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
``wilor_source``: publish a video file, an image folder or a webcam as a ROS 2 camera.

Topics: ``image`` (sensor_msgs/Image, bgr8, sensor-data QoS: best effort, keep last 5; the
name wilor_node subscribes to, remap it for other consumers) and ``camera_info``
(sensor_msgs/CameraInfo, RELIABLE, keep last 5). camera_info is reliable on purpose: a reliable
publisher matches both reliable and best-effort subscribers, and the message is tiny. Image and
camera_info of a frame carry the same header (stamp = now, ``frame_id``).

Parameters: :data:`wilor_ros.ros.source_parameters.SOURCE_PARAMETERS` (``ros2 param describe``
shows each description and range): ``source`` (file, folder, image, ``/dev/videoN`` or webcam
index), ``rate``, ``loop``, ``frame_id``, ``fx`` / ``fy`` / ``cx`` / ``cy`` (0: heuristic),
``publish_camera_info``, ``width`` / ``height`` (webcam), ``pace_topic`` (for a file or folder,
every frame waits for the HandArray with its stamp before the next one goes out, and stamps are
the media time ``t0 + index / rate``), ``pace_timeout``, ``image_reliability``.

A source that cannot be opened, or an invalid parameter, is logged and the node exits with
status 1. Ctrl-C / SIGTERM end it with status 0.
"""

import sys
import time

import rclpy
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from wilor_msgs.msg import HandArray

from wilor_ros.camera import CameraError, field_of_view_guess, intrinsics_from_values
from wilor_ros.media_io import MediaError, open_input
from wilor_ros.ros.image_qos import image_qos
from wilor_ros.ros.messages import bgr_image_msg, camera_info_msg
from wilor_ros.ros.parameter_spec import declare_parameters, parameter_problems
from wilor_ros.ros.shutdown import shutdown_ends_spin, StopSignals
# DEFAULT_FRAME_ID: test_launch.py reads it from here.
from wilor_ros.ros.source_parameters import (DEFAULT_FRAME_ID,  # noqa: F401
                                             SOURCE_PARAMETERS, SourceSettings)
from wilor_ros.stamps import media_time_nanoseconds

_DEFAULT_RATES = {'video': 30.0, 'camera': 30.0, 'images': 10.0}


class SourceNode(Node):
    """Publish the frames of a file, folder or webcam with matching camera_info."""

    def __init__(self, **kwargs):
        """Declare the parameters, open the source (MediaError when impossible) and start."""
        super().__init__('wilor_source', **kwargs)
        self.source = None
        settings = self._read_parameters()
        self.source_spec = settings.source
        rate = settings.rate
        self.loop = settings.loop
        self.frame_id = settings.frame_id
        self.intrinsics = settings.intrinsics()
        self.publish_camera_info = settings.publish_camera_info
        width, height = settings.width, settings.height
        pace_topic = settings.pace_topic
        self.pace_timeout = settings.pace_timeout
        reliability = settings.image_reliability

        self.source = open_input(self.source_spec, width=width, height=height)
        if self.source.kind == 'bag':
            raise MediaError(f'{self.source_spec} is a bag; replay it with "ros2 bag play" '
                             'instead of wilor_source')
        if rate <= 0:
            rate = self.source.fps or _DEFAULT_RATES[self.source.kind]
        self.rate = rate
        self.frames = iter(self.source)
        self.published = 0
        self.finished = False
        self._camera_info_cache = {}

        self.image_pub = self.create_publisher(Image, 'image', image_qos(reliability))
        self.info_pub = self.create_publisher(
            CameraInfo, 'camera_info',
            QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.pace_sub = None
        self._pending = None          # (image msg, info msg or None, time sent) awaiting its ack
        self._acknowledged = set()    # stamps (sec, nanosec) seen on the pace topic
        self._media_start = None
        self._waiting_logged = False
        if pace_topic and self.source.kind == 'camera':
            self.get_logger().warning('pace_topic is ignored for a webcam: it runs live')
        elif pace_topic:
            self.pace_sub = self.create_subscription(
                HandArray, pace_topic, self._on_acknowledgement,
                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.timer = self.create_timer(1.0 / rate, self._publish_next)
        count = f'{self.source.count} frames' if self.source.count else 'live'
        paced = (f", each frame after the previous one's {self.pace_sub.topic_name}"
                 if self.pace_sub is not None else '')
        self.get_logger().info(
            f'publishing {self.source.kind} {self.source_spec} ({count}) at {rate:.3g} Hz{paced} '
            f'on {self.image_pub.topic_name} + {self.info_pub.topic_name}, frame_id '
            f'{self.frame_id}, loop={self.loop}')

    def _read_parameters(self):
        """Declare the parameters and return their values; MediaError names invalid ones."""
        # As for a source that cannot be opened: one line and exit status 1, no traceback.
        try:
            declare_parameters(self, SOURCE_PARAMETERS)
        except ParameterException as error:
            raise MediaError(f'invalid parameter: {error}') from None
        values = {spec.name: self.get_parameter(spec.name).value for spec in SOURCE_PARAMETERS}
        problems = parameter_problems(SOURCE_PARAMETERS, values)
        if problems:
            raise MediaError('; '.join(problems))
        return SourceSettings.from_values(values)

    def _next_frame(self):
        """Return the next decodable frame, starting over when looping; None at the end."""
        restarted = False
        while True:
            try:
                frame = next(self.frames)
            except StopIteration:
                if not self.loop or restarted or self.source.kind == 'camera':
                    return None
                self.frames = iter(self.source)
                restarted = True
                continue
            if frame.image is not None:
                return frame
            self.get_logger().warning(f'skipping {frame.source}: {frame.error}')

    def _camera_info(self, width, height):
        key = (width, height)
        if key not in self._camera_info_cache:
            fx, fy, cx, cy = self.intrinsics
            intrinsics = None
            if fx > 0 and fy > 0:
                if cx <= 0 or cy <= 0:
                    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
                try:
                    intrinsics = intrinsics_from_values(fx, fy, cx, cy)
                    self.get_logger().info(
                        f'camera_info from parameters: fx={fx:g} fy={fy:g} cx={cx:g} cy={cy:g}')
                except CameraError as error:
                    self.get_logger().error(f'ignoring the fx, fy, cx, cy parameters: {error}')
            if intrinsics is None:
                intrinsics = field_of_view_guess(width, height)
                fx, cx, cy = intrinsics.fx, intrinsics.cx, intrinsics.cy
                self.get_logger().info(
                    f'no fx/fy parameters: publishing a GUESSED camera_info for {width}x{height}:'
                    f' fx = fy = max(W, H) = {fx:g} px (about 53 deg horizontal field of view), '
                    f'cx={cx:g} cy={cy:g}. Set fx, fy, cx, cy for metric hand depth.')
            self._camera_info_cache[key] = camera_info_msg(width, height, intrinsics)
        return self._camera_info_cache[key]

    def _on_acknowledgement(self, msg):
        self._acknowledged.add((msg.header.stamp.sec, msg.header.stamp.nanosec))

    def _paced_ready(self):
        """Return True when the next frame may go out (pacing only)."""
        if self._pending is None:
            if self.published == 0 and not (self.image_pub.get_subscription_count()
                                            and self._pace_publishers()):
                if not self._waiting_logged:
                    self._waiting_logged = True
                    self.get_logger().info(
                        f'waiting for a subscriber of {self.image_pub.topic_name} and a '
                        f'publisher of {self.pace_sub.topic_name} before the first frame')
                return False
            return True
        image, info, sent = self._pending
        if (image.header.stamp.sec, image.header.stamp.nanosec) in self._acknowledged:
            self._acknowledged.clear()
            self._pending = None
            return True
        if time.monotonic() - sent > self.pace_timeout:
            self.get_logger().warning(
                f'no {self.pace_sub.topic_name} for frame {self.published} within '
                f'{self.pace_timeout:g} s; sending it again')
            self._send(image, info)
        return False

    def _pace_publishers(self):
        # Matched publishers: a HandArray sent before the match would never be delivered.
        # (Subscription.get_publisher_count may be missing from older rclpy releases.)
        count = getattr(self.pace_sub, 'get_publisher_count', None)
        return count() if count is not None else self.count_publishers(self.pace_sub.topic_name)

    def _send(self, image, info):
        if info is not None:
            self.info_pub.publish(info)
        self.image_pub.publish(image)
        if self.pace_sub is not None:
            self._pending = (image, info, time.monotonic())

    def _stamp(self):
        if self.pace_sub is None:
            return self.get_clock().now()
        # Media time: the frame's place in the file, whatever the processing speed.
        if self._media_start is None:
            self._media_start = self.get_clock().now()
        return self._media_start + Duration(
            nanoseconds=media_time_nanoseconds(self.published, self.rate))

    def _publish_next(self):
        if self.pace_sub is not None and not self._paced_ready():
            return
        try:
            frame = self._next_frame()
        except MediaError as error:
            self.get_logger().error(str(error))
            frame = None
        if frame is None:
            self.get_logger().info(f'end of {self.source_spec} after {self.published} frames')
            self.timer.cancel()
            self.finished = True
            return
        msg = bgr_image_msg(frame.image)
        msg.header.stamp = self._stamp().to_msg()
        msg.header.frame_id = self.frame_id
        info = None
        if self.publish_camera_info:
            info = self._camera_info(msg.width, msg.height)
            info.header = msg.header
        self._send(msg, info)
        self.published += 1

    def destroy_node(self):
        """Release the capture device, then destroy the node."""
        close = getattr(self.source, 'close', None) if self.source is not None else None
        if close is not None:
            close()
        super().destroy_node()


def main(args=None, early_signals=None):
    """Run ``wilor_source`` until the input ends (no loop) or Ctrl-C; return the exit status."""
    # Before rclpy.init: one quiet stop for any number of Ctrl-C / SIGTERM (ros2 launch sends
    # a second SIGINT after the terminal's), also while a webcam or a video is being opened.
    stop = StopSignals(early_signals)
    rclpy.init(args=args)
    status = 0
    with stop.running():
        try:
            with stop.armed():
                node = stop.node = SourceNode()
                while rclpy.ok() and not node.finished:
                    with shutdown_ends_spin():
                        rclpy.spin_once(node, timeout_sec=0.1)
        except MediaError as error:
            rclpy.logging.get_logger('wilor_source').error(f'cannot open the source: {error}')
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
