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
A graph miss while the node runs is counted in /diagnostics, never silent (issue 19).

The node's frame worker (the real FrameWorker, without DDS: test/worker_fakes.py) on a pipeline
with ``compile=True`` and torch.compile's 'eager' backend: Dynamo traces, guards and recompiles
exactly as with inductor but compiles nothing, so this runs on the CPU in seconds. The forced
miss is what a user causes with ``ros2 param set /wilor_node max_hands 20``: more hands than
the detector's fixed-size table, whose graphs have the table's shape.
"""

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest
import torch
from worker_fakes import process_frame, settings_with, worker_without_node

pytestmark = pytest.mark.ros


def _values(status):
    return {value.key: value.value for value in status.values}


def test_a_forced_graph_miss_is_counted_in_diagnostics():
    from wilor_ros.detector import load_detector
    from wilor_ros.hand_stream import HandStream
    from wilor_ros.pipeline import HandPipeline
    from wilor_ros.reconstructor import load_reconstructor
    from wilor_ros.ros.frame_worker import tracking_options
    from diagnostic_msgs.msg import DiagnosticStatus
    from wilor_ros.ros.node_diagnostics import (diagnostic_status, FrameStatistics,
                                                graph_key_values)

    torch._dynamo.reset()
    pipe = HandPipeline(load_detector(DETECTOR, imgsz=320), load_reconstructor(RECONSTRUCTOR),
                        conf=0.05, max_hands=2, compile=True, compile_backend='eager')
    values = {'use_camera_info': False, 'use_depth': False, 'smoothing.enabled': False,
              'detection.confidence': 0.05, 'max_hands': 2}
    current = [settings_with(values)]
    stats = FrameStatistics()
    worker, stream = worker_without_node(HandStream(pipe, tracking_options(current[0])),
                                         lambda: current[0], stats)

    def status():
        report = stats.report()
        # No latency budget: the warm-up makes the first frame slow (a WARN of its own).
        built = diagnostic_status(report, name='wilor_node: hand reconstruction',
                                  hardware_id='cpu', image_topic='image', latency_budget=0)
        built.values += graph_key_values(pipe)
        return built

    image = np.load(DETECT_NPZ)['image']
    for sec in (1, 2):   # the worker warms the camera's size up before its first frame
        process_frame(worker, image, sec)
    before = _values(status())
    assert before['graphs.graph_misses'] == '0', before
    assert before['graphs.compilations_after_warm_up'] == '0', before
    assert 'errors.graph_miss' not in before and status().level == DiagnosticStatus.OK

    rows = pipe.detector.table_size
    current[0] = settings_with({**values, 'max_hands': rows + 4})   # the live parameter change
    for sec in (3, 4, 5):
        process_frame(worker, image, sec)
    after = status()
    counted = _values(after)
    assert counted['graphs.graph_misses'] == '1', counted        # once, not per frame
    assert counted['errors.graph_miss'] == '1', counted
    assert counted['graphs.compilations_after_warm_up'] == '0', counted  # warmed up again
    # WARN while the miss is in the rate window, and the message says what missed.
    assert after.level == DiagnosticStatus.WARN, after.message
    assert f'detector table of {rows + 4} rows' in after.message, after.message
    # No frame was lost to the miss: each one's hands went out.
    assert [m.header.stamp.sec for m in stream.hands_pub.messages] == [1, 2, 3, 4, 5]
    assert len(stream.hands_pub.messages[-1].hands) > 2
