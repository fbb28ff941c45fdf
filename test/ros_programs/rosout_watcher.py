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
Print every /rosout message as one JSON line {"rosout": logger name, "msg": text}.

A node writes a log line to its console before it publishes it on /rosout: once the message
arrives here, the node's logging call has ended. Tests that signal a node right after a log line
wait for it here, so the signal does not land inside that call. Runs until SIGINT / SIGTERM.
"""

import json
import signal

from rcl_interfaces.msg import Log
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def main():
    rclpy.init()
    node = rclpy.create_node('rosout_watcher')
    # /rosout's own QoS: reliable, transient local (earlier lines arrive too).
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(
        Log, '/rosout',
        lambda msg: print(json.dumps({'rosout': msg.name, 'msg': msg.msg}), flush=True), qos)
    print('READY', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
