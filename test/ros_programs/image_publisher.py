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

"""Publish 640x480 rgb8 images (sensor-data QoS, or reliable) at a fixed rate for a fixed time."""

import argparse
import json
import time

from graph_waits import wait_for_subscribers, wait_until_unsubscribed
from image_qos import add_reliable_option
import numpy as np
import rclpy
from sensor_msgs.msg import Image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--seconds', type=float, default=3.0)
    qos_of_args = add_reliable_option(parser)
    args = parser.parse_args()
    qos = qos_of_args(args)
    rclpy.init()
    node = rclpy.create_node('image_publisher')
    publisher = node.create_publisher(Image, 'image', qos)
    wait_for_subscribers(node, publisher)
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    count = int(round(args.rate * args.seconds))
    start = time.monotonic()
    for index in range(count):
        msg = Image(height=480, width=640, encoding='rgb8', step=640 * 3)
        msg.header.frame_id = 'camera_optical'
        msg.header.stamp.sec = index
        msg.data = frame.tobytes()
        publisher.publish(msg)
        time.sleep(max(0.0, start + (index + 1) / args.rate - time.monotonic()))
    print(json.dumps({'published': count}), flush=True)
    wait_until_unsubscribed(node, publisher, timeout=10)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
