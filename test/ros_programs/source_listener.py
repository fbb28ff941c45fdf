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
Receive wilor_source's image + camera_info until COUNT images arrived; print a JSON summary.

Both subscriptions are sensor-data (best effort), as a typical camera consumer subscribes.
Usage: source_listener.py COUNT [TIMEOUT_S]
"""

import json
import sys
import time

import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image


def stamp_ns(header):
    """Return the header stamp in nanoseconds."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def main():
    """Subscribe, collect, print the summary; exit 1 when too few images came."""
    wanted = int(sys.argv[1])
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    rclpy.init()
    node = rclpy.create_node('source_listener')
    images, infos = [], {}

    def on_image(msg):
        pixels = bytes(msg.data[:3])
        images.append({'stamp': stamp_ns(msg.header), 'frame_id': msg.header.frame_id,
                       'encoding': msg.encoding, 'width': msg.width, 'height': msg.height,
                       'step': msg.step, 'size': len(msg.data), 'first_pixel': list(pixels)})

    def on_info(msg):
        infos[stamp_ns(msg.header)] = {'frame_id': msg.header.frame_id, 'k': list(msg.k),
                                       'width': msg.width, 'height': msg.height}

    node.create_subscription(Image, 'image', on_image, qos_profile_sensor_data)
    node.create_subscription(CameraInfo, 'camera_info', on_info, qos_profile_sensor_data)
    print('READY', flush=True)
    deadline = time.monotonic() + timeout
    while len(images) < wanted and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    # Let the camera_info of the last image arrive too.
    settle = time.monotonic() + 0.5
    while time.monotonic() < settle:
        rclpy.spin_once(node, timeout_sec=0.05)
    print(json.dumps({'images': images[:wanted],
                      'infos': {str(k): v for k, v in infos.items()}}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    sys.exit(0 if len(images) >= wanted else 1)


if __name__ == '__main__':
    main()
