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
The fusion test rig: static camera transforms out, hands_fused and /tf in.

Commands (``stamp`` is [sec, nanosec]):

* static_tf {transforms: [[parent, child, [x, y, z], [qx, qy, qz, qw]], ...]}: latch them on
  /tf_static (transient local, as static_transform_publisher);
* fused {stamp, timeout}: the hands_fused message with that stamp (header and per hand: side,
  id, cameras, keypoint_uncertainty, wrist), or {timeout: true};
* tf {parent, timeout}: the child frames of the /tf transforms with that parent seen so far,
  waiting until there is one;
* count: hands_fused messages received.
"""

import threading
import time

from command_loop import serve
from geometry_msgs.msg import TransformStamped
import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage
from wilor_msgs.msg import HandArray

STATIC = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class Rig:

    def __init__(self, node):
        self.node = node
        self.condition = threading.Condition()
        self.fused = {}
        self.count = 0
        self.children = {}
        self.static_pub = node.create_publisher(TFMessage, '/tf_static', STATIC)
        node.create_subscription(HandArray, 'hands_fused', self.on_fused, RELIABLE)
        node.create_subscription(TFMessage, '/tf', self.on_tf, RELIABLE)

    def on_fused(self, msg):
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        summary = {'stamp': list(stamp), 'frame_id': msg.header.frame_id, 'hands': [{
            'side': int(hand.side), 'id': hand.id, 'cameras': list(hand.cameras),
            'uncertainty': [float(v) for v in hand.keypoint_uncertainty],
            'wrist': [hand.keypoints_3d[0].x, hand.keypoints_3d[0].y, hand.keypoints_3d[0].z],
            'focal_length': [float(v) for v in hand.focal_length]} for hand in msg.hands]}
        with self.condition:
            self.fused[stamp] = summary
            self.count += 1
            self.condition.notify_all()

    def on_tf(self, msg):
        with self.condition:
            for transform in msg.transforms:
                self.children.setdefault(transform.header.frame_id, set()).add(
                    transform.child_frame_id)
            self.condition.notify_all()

    def static_tf(self, command):
        msg = TFMessage()
        for parent, child, translation, rotation in command['transforms']:
            transform = TransformStamped()
            transform.header.stamp = self.node.get_clock().now().to_msg()
            transform.header.frame_id = parent
            transform.child_frame_id = child
            t, q = transform.transform.translation, transform.transform.rotation
            t.x, t.y, t.z = (float(v) for v in translation)
            q.x, q.y, q.z, q.w = (float(v) for v in rotation)
            msg.transforms.append(transform)
        self.static_pub.publish(msg)
        return {'sent': len(msg.transforms)}

    def _wait(self, ready, timeout):
        deadline = time.monotonic() + timeout
        with self.condition:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.condition.wait(left)
        return True

    def fused_at(self, command):
        stamp = tuple(command['stamp'])
        if not self._wait(lambda: stamp in self.fused, command.get('timeout', 10.0)):
            return {'timeout': True}
        return self.fused[stamp]

    def tf(self, command):
        parent = command['parent']
        self._wait(lambda: self.children.get(parent), command.get('timeout', 10.0))
        return {'children': sorted(self.children.get(parent, ()))}

    def count_fused(self, command):
        return {'count': self.count}


def main():
    rclpy.init()
    node = rclpy.create_node('fusion_rig')
    rig = Rig(node)
    handlers = {'static_tf': rig.static_tf, 'fused': rig.fused_at, 'tf': rig.tf,
                'count': rig.count_fused}
    serve(node, handlers.__getitem__)


if __name__ == '__main__':
    main()
