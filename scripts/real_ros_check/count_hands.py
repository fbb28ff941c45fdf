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
Count the distinct stamps on ``hands`` (reliable QoS), as a user's subscriber would.

Prints READY once subscribed; counts until SIGTERM or ``idle`` seconds without a message after
the first one; writes ``N messages, D distinct stamps, G gaps > 40 ms`` to ``out``.
"""

import signal
import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from wilor_msgs.msg import HandArray


def main(out, idle):
    """Subscribe, count, write the summary line."""
    rclpy.init()
    node = rclpy.create_node('hands_counter')
    stamps, last, stop = [], [None], [False]

    def received(msg):
        stamps.append((msg.header.stamp.sec, msg.header.stamp.nanosec))
        last[0] = time.monotonic()

    node.create_subscription(HandArray, 'hands', received,
                             QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    signal.signal(signal.SIGTERM, lambda *args: stop.__setitem__(0, True))
    print('READY', flush=True)
    while not stop[0] and (last[0] is None or time.monotonic() - last[0] < idle):
        rclpy.spin_once(node, timeout_sec=0.2)
    nanoseconds = [sec * 10**9 + nsec for sec, nsec in sorted(set(stamps))]
    # The clip is 30 fps: a step over 40 ms between stamps is a frame that did not arrive.
    gaps = sum(1 for a, b in zip(nanoseconds, nanoseconds[1:]) if b - a > 40_000_000)
    line = f'{len(stamps)} messages, {len(nanoseconds)} distinct stamps, {gaps} gaps > 40 ms'
    with open(out, 'w') as summary:
        summary.write(line + '\n')
    print(line)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]))
