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

"""Receive one HandArray and write its serialized bytes to the file given as argument."""

import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from wilor_msgs.msg import HandArray


def main():
    out_path = sys.argv[1]
    rclpy.init()
    node = rclpy.create_node('hands_listener')
    received = []
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(HandArray, 'hands', received.append, qos)
    print('READY', flush=True)
    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    if received:
        with open(out_path, 'wb') as stream:
            stream.write(serialize_message(received[0]))
        print('RECEIVED', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    sys.exit(0 if received else 1)


if __name__ == '__main__':
    main()
