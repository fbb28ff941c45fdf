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

Parameters of the node (all dynamically typed, so ``-p source:=0`` and ``-p fx:=600`` work):

* ``source`` (default '0'): video file, image folder, single image, ``/dev/videoN`` or a webcam
  index.
* ``rate`` (Hz, default 0 = the video's own frame rate, 30 for a webcam, 10 for images).
* ``loop`` (default false): start a file or folder over at its end; without it the node exits
  (status 0) after the last frame.
* ``frame_id`` (default 'camera_optical_frame').
* ``fx``, ``fy``, ``cx``, ``cy`` (pixels, default 0 = unknown: the heuristic fx = fy = max(W, H),
  about 53 degrees horizontal field of view, principal point at the image centre).
* ``publish_camera_info`` (default true; false leaves the focal length to wilor_node's own
  heuristic).
* ``width``, ``height`` (webcam capture size, 0 = driver default).
* ``pace_topic`` (default '' = off): a wilor_msgs/HandArray topic (e.g. ``hands``). For a file
  or folder, every frame then waits for the HandArray with its stamp before the next one goes
  out (at most ``rate``), so a slow consumer gets every frame instead of the newest one; the
  first frame waits until ``image`` has a subscriber and the pace topic a publisher. Stamps
  are then the media time ``t0 + index / rate``, so tracking, smoothing and a recorder see the
  video's own timing however slow the processing. Ignored for webcams (live).
* ``pace_timeout`` (s, default 30): a frame whose HandArray has not come by then is sent
  again (same stamp, e.g. when best-effort delivery lost it), with a warning.

A source that cannot be opened is logged and the node exits with status 1. Ctrl-C / SIGTERM
end it with status 0.
"""

import sys
import time

from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from wilor_msgs.msg import HandArray

from wilor_ros.camera import CameraError, field_of_view_guess, intrinsics_from_values
from wilor_ros.media_io import MediaError, open_input
from wilor_ros.ros.image_qos import image_qos, RELIABILITIES
from wilor_ros.ros.messages import bgr_image_msg, camera_info_msg
from wilor_ros.ros.shutdown import shutdown_ends_spin

DEFAULT_FRAME_ID = 'camera_optical_frame'
_DEFAULT_RATES = {'video': 30.0, 'camera': 30.0, 'images': 10.0}


class SourceNode(Node):
    """Publish the frames of a file, folder or webcam with matching camera_info."""

    def __init__(self, **kwargs):
        """Declare the parameters, open the source (MediaError when impossible) and start."""
        super().__init__('wilor_source', **kwargs)
        self.source = None
        self.source_spec = str(self._parameter('source', '0', 'video file, image folder, image, '
                                               '/dev/videoN or webcam index'))
        rate = float(self._parameter('rate', 0.0, 'Hz; 0 = rate of the input'))
        self.loop = bool(self._parameter('loop', False, 'start a file or folder over at its end'))
        self.frame_id = str(self._parameter('frame_id', DEFAULT_FRAME_ID, 'header.frame_id'))
        self.intrinsics = [float(self._parameter(name, 0.0, 'pixels; 0 = heuristic'))
                           for name in ('fx', 'fy', 'cx', 'cy')]
        self.publish_camera_info = bool(
            self._parameter('publish_camera_info', True, 'publish camera_info with each image'))
        width = int(self._parameter('width', 0, 'webcam capture width, 0 = driver default'))
        height = int(self._parameter('height', 0, 'webcam capture height, 0 = driver default'))
        pace_topic = str(self._parameter('pace_topic', '', 'HandArray topic acknowledging each '
                                         'frame (files and folders); empty: no pacing'))
        self.pace_timeout = float(self._parameter('pace_timeout', 30.0, 'seconds before an '
                                                  'unacknowledged frame is sent again'))
        reliability = str(self._parameter('image_reliability', 'best_effort', 'QoS of image: '
                                          'best_effort (sensor data, as camera drivers) or '
                                          'reliable (every frame; a best-effort subscriber '
                                          'still matches)'))
        if reliability not in RELIABILITIES:
            raise MediaError(f'image_reliability must be best_effort or reliable, got '
                             f'{reliability!r}')

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

    def _parameter(self, name, default, description):
        # Dynamic typing: `-p source:=0` arrives as an integer, `-p fx:=600` as one too.
        descriptor = ParameterDescriptor(description=description, dynamic_typing=True)
        return self.declare_parameter(name, default, descriptor).value

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
        return self._media_start + Duration(nanoseconds=int(round(self.published * 1e9
                                                                  / self.rate)))

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


def main(args=None):
    """Run ``wilor_source`` until the input ends (no loop) or Ctrl-C; return the exit status."""
    rclpy.init(args=args)
    node = None
    status = 0
    try:
        node = SourceNode()
        while rclpy.ok() and not node.finished:
            with shutdown_ends_spin():
                rclpy.spin_once(node, timeout_sec=0.1)
    except MediaError as error:
        rclpy.logging.get_logger('wilor_source').error(f'cannot open the source: {error}')
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
