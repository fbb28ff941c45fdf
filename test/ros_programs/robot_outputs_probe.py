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
A scripted listener of wilor_node's robot outputs for test_ros_robot_outputs.py.

Subscribes (reliable) to ``hands`` (gesture fields), ``gestures`` (hri_msgs/Gesture),
``retargeting/{right,left}/joint_states`` (sensor_msgs/JointState) and ``/diagnostics``, and
records each message by its header stamp. Commands, one JSON line each (see command_loop):

* wait_match {what}: wait until that topic's publisher matches; {matched}.
* get {what, stamp: [sec, nanosec], count, timeout}: the summaries of the first ``count``
  messages of ``what`` with that stamp, or {"timeout": true, "got": [...]}.
* diagnostics {timeout}: the values of the first wilor_node status received after the command.
"""

import threading
import time

from command_loop import serve
from diagnostic_msgs.msg import DiagnosticArray
from hri_msgs.msg import Gesture
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from wilor_msgs.msg import HandArray

TOPICS = {'hands': ('hands', HandArray), 'gestures': ('gestures', Gesture),
          'right': ('retargeting/right/joint_states', JointState),
          'left': ('retargeting/left/joint_states', JointState)}


def summary(what, msg):
    stamp = [msg.header.stamp.sec, msg.header.stamp.nanosec]
    if what == 'hands':
        return {'stamp': stamp, 'hands': [
            {'id': hand.id, 'side': int(hand.side), 'gesture': int(hand.gesture),
             'gesture_confidence': float(hand.gesture_confidence)} for hand in msg.hands]}
    if what == 'gestures':
        return {'stamp': stamp, 'gesture': int(msg.gesture), 'handedness': int(msg.handedness)}
    return {'stamp': stamp, 'frame_id': msg.header.frame_id, 'name': list(msg.name),
            'position': [float(p) for p in msg.position]}


class Probe:

    def __init__(self, node):
        self.node = node
        self.condition = threading.Condition()
        self.records = {what: {} for what in TOPICS}
        self.diagnostics = []
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.subscriptions = {
            what: node.create_subscription(kind, topic, self.recorder(what), qos)
            for what, (topic, kind) in TOPICS.items()}
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, qos)

    def recorder(self, what):
        def record(msg):
            item = summary(what, msg)
            with self.condition:
                self.records[what].setdefault(tuple(item['stamp']), []).append(item)
                self.condition.notify_all()
        return record

    def on_diagnostics(self, msg):
        with self.condition:
            for status in msg.status:
                if status.name.startswith('wilor_node'):
                    self.diagnostics.append((time.monotonic(),
                                             {kv.key: kv.value for kv in status.values}))
            self.condition.notify_all()

    def wait_match(self, command):
        topic = TOPICS[command['what']][0]
        deadline = time.monotonic() + command.get('timeout', 20.0)
        while time.monotonic() < deadline:
            if self.node.count_publishers(topic) > 0:
                return {'matched': True}
            time.sleep(0.05)
        return {'matched': False}

    def get(self, command):
        key, count = tuple(command['stamp']), command.get('count', 1)
        records = self.records[command['what']]
        with self.condition:
            done = self.condition.wait_for(lambda: len(records.get(key, ())) >= count,
                                           timeout=command.get('timeout', 5.0))
            got = list(records.get(key, ()))
        return {'messages': got[:count]} if done else {'timeout': True, 'got': got}

    def get_diagnostics(self, command):
        asked = time.monotonic()
        with self.condition:
            done = self.condition.wait_for(
                lambda: any(when > asked for when, _ in self.diagnostics),
                timeout=command.get('timeout', 10.0))
            if not done:
                return {'timeout': True}
            return next(values for when, values in self.diagnostics if when > asked)

    def handler(self, name):
        return {'wait_match': self.wait_match, 'get': self.get,
                'diagnostics': self.get_diagnostics}[name]


def main():
    rclpy.init()
    node = rclpy.create_node('robot_outputs_probe')
    serve(node, Probe(node).handler)


if __name__ == '__main__':
    main()
