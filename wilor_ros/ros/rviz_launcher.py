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
``wilor_rviz``: start RViz with its fixed frame set to the camera's own optical frame.

RViz draws a marker only when it can transform the marker's frame into its fixed frame. The
hand markers carry the image's ``header.frame_id`` (``camera_color_optical_frame`` for a
RealSense, ``camera_optical_frame`` for wilor_source...), and a fixed default name would leave
RViz with no mesh whenever the camera uses another name and publishes no TF to it. So, unless
``--fixed-frame`` names one (e.g. a frame of your TF tree such as ``base_link``), this program
waits for the first ``camera_info``, ``image`` or ``hands`` message, takes its frame_id and
then replaces itself (exec) with ``rviz2 -d CONFIG -f FRAME``: same process, so launch manages
RViz as usual. While nothing arrives it says so every few seconds.

    wilor_rviz --config config/wilor.rviz [--fixed-frame F] [--remap /markers:=/ns/markers]
        --ros-args -r image:=/camera/color/image_raw -r camera_info:=/camera/color/camera_info

``--remap`` arguments are passed to RViz as ``--ros-args -r``; this program's own topics are
remapped with its own ``--ros-args``.
"""

import argparse
import os
import shutil
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from wilor_msgs.msg import HandArray

from wilor_ros.ros.shutdown import shutdown_ends_spin

REMINDER_PERIOD = 5.0


def rviz_executable(name='rviz2'):
    """Return the path of rviz2: on PATH, or in the package's lib folder (a ROS install)."""
    found = shutil.which(name)
    if found or name != 'rviz2':
        return found
    try:
        from ament_index_python.packages import get_package_prefix

        candidate = os.path.join(get_package_prefix('rviz2'), 'lib', 'rviz2', 'rviz2')
    except (ImportError, KeyError, LookupError, ValueError):
        return None
    return candidate if os.access(candidate, os.X_OK) else None


def rviz_command(executable, config, fixed_frame, remaps):
    """Return the rviz2 command line."""
    command = [executable, '-d', config, '-f', fixed_frame]
    if remaps:
        command.append('--ros-args')
        for remap in remaps:
            command += ['-r', remap]
    return command


def wait_for_frame(node, timeout=None):
    """Return the frame_id of the first camera_info, image or hands message (None: timeout)."""
    found = []

    def record(msg):
        if msg.header.frame_id and not found:
            found.append(msg.header.frame_id)

    subscriptions = [
        node.create_subscription(CameraInfo, 'camera_info', record, qos_profile_sensor_data),
        node.create_subscription(Image, 'image', record, qos_profile_sensor_data),
        node.create_subscription(HandArray, 'hands', record,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)),
    ]
    topics = ', '.join(subscription.topic_name for subscription in subscriptions)
    start = reminder = time.monotonic()
    while not found:
        rclpy.spin_once(node, timeout_sec=0.1)
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            return None
        if now - reminder > REMINDER_PERIOD:
            reminder = now
            node.get_logger().info(f'waiting for a message on {topics} to learn the camera '
                                   'frame (or set the fixed_frame launch argument)')
    for subscription in subscriptions:
        node.destroy_subscription(subscription)
    return found[0]


def main(argv=None):
    """Find the fixed frame, then exec rviz2; return an exit status when RViz cannot start."""
    parser = argparse.ArgumentParser(prog='wilor_rviz', description=__doc__.strip().split(
        '\n')[0])
    parser.add_argument('--config', required=True, help='RViz configuration file')
    parser.add_argument('--fixed-frame', default='',
                        help="RViz fixed frame; empty: the camera's frame_id")
    parser.add_argument('--remap', action='append', default=[],
                        help='FROM:=TO topic remapping for RViz (repeatable)')
    parser.add_argument('--rviz-executable', default='rviz2', help=argparse.SUPPRESS)
    args, ros_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    executable = rviz_executable(args.rviz_executable)
    if executable is None:
        print('wilor_rviz: rviz2 is not installed (apt install ros-$ROS_DISTRO-rviz2)',
              file=sys.stderr)
        return 1
    frame = args.fixed_frame
    if not frame:
        rclpy.init(args=ros_args)
        node = rclpy.create_node('wilor_rviz')
        try:
            with shutdown_ends_spin():
                frame = wait_for_frame(node)
                node.get_logger().info(f'RViz fixed frame: {frame} (the camera frame)')
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
        if not frame:
            return 0  # Ctrl-C / SIGTERM before any camera message: no RViz wanted any more.
    sys.stdout.flush()
    command = rviz_command(executable, args.config, frame, args.remap)
    os.execv(command[0], command)


if __name__ == '__main__':
    sys.exit(main())
