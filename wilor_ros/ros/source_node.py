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

A source that cannot be opened is logged and the node exits with status 1.
"""

import sys

from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from wilor_ros.camera import CameraError, field_of_view_guess, intrinsics_from_values
from wilor_ros.media_io import MediaError, open_input
from wilor_ros.ros.messages import bgr_image_msg, camera_info_msg

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

        self.image_pub = self.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.info_pub = self.create_publisher(
            CameraInfo, 'camera_info',
            QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.timer = self.create_timer(1.0 / rate, self._publish_next)
        count = f'{self.source.count} frames' if self.source.count else 'live'
        self.get_logger().info(
            f'publishing {self.source.kind} {self.source_spec} ({count}) at {rate:.3g} Hz on '
            f'{self.image_pub.topic_name} + {self.info_pub.topic_name}, frame_id '
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

    def _publish_next(self):
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
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        if self.publish_camera_info:
            info = self._camera_info(msg.width, msg.height)
            info.header = msg.header
            self.info_pub.publish(info)
        self.image_pub.publish(msg)
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
