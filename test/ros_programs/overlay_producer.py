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
Stand in for wilor_node in front of the overlay recorder: advertise and publish on command.

Commands (one JSON line each, see command_loop.py):

* advertise {topic}: create the reliable publisher of ``debug_image`` or ``hands`` and wait
  until a subscriber (the recorder) matched it; replies {"matched": bool}.
* frame {stamp}: publish a 64x48 debug image and a sample HandArray with ``stamp`` [sec, ns].
"""

from command_loop import serve_object
from graph_waits import matched_within
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sample_messages import make_hand_array
from sensor_msgs.msg import Image
from wilor_msgs.msg import HandArray

TYPES = {'debug_image': Image, 'hands': HandArray}


class Producer:

    def __init__(self, node):
        self.node = node
        self.publishers = {}

    def advertise(self, command):
        topic = command['topic']
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        publisher = self.node.create_publisher(TYPES[topic], topic, qos)
        self.publishers[topic] = publisher
        return {'matched': matched_within(publisher.get_subscription_count,
                                          command.get('timeout', 20.0))}

    def frame(self, command):
        sec, nanosec = command['stamp']
        image = Image(height=48, width=64, encoding='bgr8', step=64 * 3)
        image.data = np.full((48, 64, 3), 90, np.uint8).tobytes()
        hands = make_hand_array()
        for msg in (image, hands):
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(sec), int(nanosec)
            msg.header.frame_id = 'cam_optical'
        self.publishers['hands'].publish(hands)
        self.publishers['debug_image'].publish(image)
        return {'published': True}


def main():
    serve_object('overlay_producer', Producer)


if __name__ == '__main__':
    main()
