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

"""Count images (sensor-data QoS, or reliable) until none arrives for 2 s; print the count."""

import argparse
import json
import time

from image_qos import add_reliable_option
import rclpy
from sensor_msgs.msg import Image


def main():
    parser = argparse.ArgumentParser()
    qos_of_args = add_reliable_option(parser)
    args = parser.parse_args()
    qos = qos_of_args(args)
    rclpy.init()
    node = rclpy.create_node('image_listener')
    stamps = set()
    sizes = set()

    def on_image(msg):
        stamps.add(msg.header.stamp.sec)
        sizes.add(len(msg.data))

    node.create_subscription(Image, 'image', on_image, qos)
    print('READY', flush=True)
    deadline = time.monotonic() + 30
    last_count, last_change = 0, time.monotonic()
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if len(stamps) != last_count:
            last_count, last_change = len(stamps), time.monotonic()
        elif stamps and time.monotonic() - last_change > 2.0:
            break
    print(json.dumps({'received': len(stamps), 'sizes': sorted(sizes)}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
