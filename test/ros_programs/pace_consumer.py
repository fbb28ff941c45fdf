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
A slow consumer for wilor_source's pacing: acknowledges each image on ``hands`` after a delay.

Receives ``image`` (reliable subscription, so no frame is lost to the test's own QoS), waits
``--delay`` seconds (a slow node), then publishes an empty HandArray with the image's header.
With ``--ignore-first`` the first image is never acknowledged (a frame the node lost).
Prints one JSON line per image: {"image": stamp_ns, "first_pixel": v, "at": monotonic};
exits after COUNT images are acknowledged, or at its timeout.
Usage: pace_consumer.py COUNT [--delay S] [--ignore-first] [--timeout S]
"""

import argparse
import json
import time

import rclpy
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from wilor_msgs.msg import HandArray


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('count', type=int)
    parser.add_argument('--delay', type=float, default=0.3)
    parser.add_argument('--ignore-first', action='store_true')
    parser.add_argument('--timeout', type=float, default=60.0)
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node('pace_consumer')
    pending = []
    seen = []

    def on_image(msg):
        seen.append(msg.header)
        print(json.dumps({'image': msg.header.stamp.sec * 1_000_000_000
                          + msg.header.stamp.nanosec, 'first_pixel': msg.data[0],
                          'at': time.monotonic()}), flush=True)
        if not (args.ignore_first and len(seen) == 1):
            pending.append((time.monotonic() + args.delay, msg.header))

    node.create_subscription(Image, 'image', on_image, qos_profile_sensor_data)
    hands = node.create_publisher(HandArray, 'hands',
                                  QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    print('READY', flush=True)
    deadline = time.monotonic() + args.timeout
    while (len(seen) < args.count or pending) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)
        while pending and pending[0][0] <= time.monotonic():
            hands.publish(HandArray(header=pending.pop(0)[1]))
    time.sleep(0.5)   # let the last acknowledgement reach the source before leaving the graph
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
