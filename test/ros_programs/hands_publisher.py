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

"""Publish one sample HandArray (reliable) once a subscriber matches; exit when it leaves."""

from graph_waits import wait_for_subscribers, wait_until_unsubscribed
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sample_messages import make_hand_array
from wilor_msgs.msg import HandArray


def main():
    rclpy.init()
    node = rclpy.create_node('hands_publisher')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publisher = node.create_publisher(HandArray, 'hands', qos)
    wait_for_subscribers(node, publisher)
    publisher.publish(make_hand_array())
    print('PUBLISHED', flush=True)
    # Stay until the listener has left, so a reliable resend is possible if needed.
    wait_until_unsubscribed(node, publisher, timeout=20)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
