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
wilor_node in-process whose inference hangs after a few frames (test program, not a node).

Runs the real WilorNode class with the parameters given on the command line, then wraps its
pipeline: the first ``--good`` frames are reconstructed, every later call blocks until the
program ends. Prints {"blocked_at": <time.monotonic()>} when the first call blocks, so the
test can time how long /diagnostics takes to say ERROR. CLOCK_MONOTONIC is system-wide, so
the test process can compare it with its own clock.
"""

import argparse
import json
import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException

from wilor_ros.ros.wilor_node import WilorNode


class HangingPipeline:
    """Delegate to the real pipeline for ``good`` frames, then block."""

    def __init__(self, pipeline, good, release):
        self._pipeline = pipeline
        self._good = good
        self._release = release

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def process_batch(self, *args, **kwargs):
        # The node runs every batch of frames (one per camera) through process_batch.
        if self._good > 0:
            self._good -= 1
            return self._pipeline.process_batch(*args, **kwargs)
        print(json.dumps({'blocked_at': time.monotonic()}), flush=True)
        self._release.wait()
        raise RuntimeError('released at shutdown')


def bring_up(node):
    """Load the weights and start processing: the lifecycle transitions configure, activate."""
    node.trigger_configure()
    node.trigger_activate()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--good', type=int, default=2)
    args, ros_args = parser.parse_known_args()
    rclpy.init(args=ros_args)
    release = threading.Event()
    node = WilorNode()
    try:
        bring_up(node)
        # The worker runs batches through the node's hand stream (wilor_ros.hand_stream).
        node.pipeline = HangingPipeline(node.pipeline, args.good, release)
        node.hand_stream.pipeline = node.pipeline
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        release.set()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
