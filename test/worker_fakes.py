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
The node's frame worker without a node: a camera stream, publishers and loggers that record.

``worker_without_node(hand_stream, settings, stats)`` builds the real
``wilor_ros.ros.frame_worker.FrameWorker`` (what wilor_node runs on its worker thread) around one
camera stream whose only subscribed output is ``hands``; ``settings_with({...})`` gives the node's
settings from its parameter table with some values changed. Tests then call ``worker.process``
with frames and read what was published and counted, without DDS.
"""

import threading
import time

import numpy as np


class FakePublisher:
    def __init__(self, subscribers=1):
        self.subscribers = subscribers
        self.messages = []

    def get_subscription_count(self):
        return self.subscribers

    def publish(self, msg):
        self.messages.append(msg)


class FakeStream:
    """A camera stream of the node with only hands subscribed (see camera_stream.py)."""

    name = ''
    prefix = ''
    last_header = None

    def __init__(self):
        from types import SimpleNamespace

        self.hands_pub = FakePublisher()
        self.hands_raw_pub, self.markers_pub, self.debug_pub = (FakePublisher(0),) * 3
        self.image_sub = SimpleNamespace(topic_name='image')

    def wanted(self, settings, tf_publisher):
        from wilor_ros.ros.camera_stream import WantedOutputs

        return WantedOutputs(hands=True, hands_raw=False, markers=False, debug_image=False,
                             tf=False)


class QuietLogger:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def settings_with(changes):
    """Return the node's NodeSettings: the parameter table's defaults, then ``changes`` (dict)."""
    from wilor_ros.ros.node_parameters import NodeSettings, PARAMETERS

    values = {spec.name: spec.default for spec in PARAMETERS}
    values.update(changes)
    return NodeSettings.from_values(values)


def worker_without_node(hand_stream, settings, stats, step_publishers=()):
    """
    Return (worker, stream): the node's FrameWorker on one FakeStream.

    ``settings`` is a NodeSettings or a zero-argument callable returning the current one (the
    node passes its live settings that way).
    """
    from wilor_ros.ros.frame_worker import FrameWorker
    from wilor_ros.ros.rgbd_diagnostics import RgbdStatistics
    from wilor_ros.ros.throttled_log import KindThrottledLogger

    current = settings if callable(settings) else (lambda: settings)
    stream = FakeStream()
    worker = FrameWorker(hand_stream, {'': stream}, stats, RgbdStatistics(),
                         KindThrottledLogger(QuietLogger()), QuietLogger(), None, None,
                         current, list(step_publishers))
    return worker, stream


def process_frame(worker, image, sec):
    """Give the worker one BGR frame stamped ``sec`` seconds, received as by the node."""
    from wilor_ros.ros.frame_mailbox import Frame
    from wilor_ros.ros.messages import bgr_image_msg

    msg = bgr_image_msg(np.ascontiguousarray(image))
    msg.header.stamp.sec = sec
    worker.stats.count_received(False)   # the node's image callback counts it first
    worker.process({'': Frame(msg, time.monotonic())}, threading.Event())  # never set: running
