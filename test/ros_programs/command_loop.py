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
The command loop of the driven test programs: one JSON command per stdin line, one reply line.

A program prints ``READY``, then answers each ``{"cmd": NAME, ...}`` with
``{"reply": handler(command)}`` until ``{"cmd": "quit"}`` or the end of stdin, and shuts
its node down cleanly (a clean DDS shutdown, unlike a killed process).
"""

import json
import sys
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor


def serve(node, handler_for, spin=True):
    """
    Answer commands with ``handler_for(name)(command)`` until quit; then destroy ``node``.

    ``spin``: spin the node in a background thread meanwhile (for subscriptions and service
    clients); programs that only publish leave it off.
    """
    executor = spinner = None
    if spin:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
    print('READY', flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command['cmd'] == 'quit':
                break
            print(json.dumps({'reply': handler_for(command['cmd'])(command)}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
            spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown()


def serve_object(node_name, make_target, spin=False):
    """Start rclpy and a node; answer each command NAME with ``make_target(node).NAME``."""
    rclpy.init()
    node = rclpy.create_node(node_name)
    target = make_target(node)
    serve(node, lambda name: getattr(target, name), spin=spin)
