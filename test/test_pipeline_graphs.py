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
Graphs that never recompile while the node runs, and misses that are counted, not silent.

The pipeline with ``compile=True`` and torch.compile's 'eager' backend: Dynamo traces and
guards exactly as with inductor (so every recompilation a live parameter change would cause
happens here too), but compiles nothing, so the check runs on the CPU in seconds per graph.
The letterbox size is 320 (the fixture detector accepts any multiple of 32) to keep the 100
frames affordable on CI's two cores. Hand counts 1-8 come from ``max_hands`` (the scene has 8).
"""

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.detector import load_detector
from wilor_ros.pipeline import HandPipeline
from wilor_ros.reconstructor import load_reconstructor

CAMERA_HW = (360, 640)  # not the warm-up default (480x640): the camera's own size


@pytest.fixture(scope='module')
def scene():
    import cv2

    # Four copies of the fixture scene, so that the fixture detector finds 8 hands at 320.
    half = cv2.resize(np.load(DETECT_NPZ)['image'], (CAMERA_HW[1] // 2, CAMERA_HW[0] // 2))
    return np.vstack([np.hstack([half, half[:, ::-1]]), np.hstack([half[::-1], half])])


def _compiled_pipeline(max_hands=8):
    torch._dynamo.reset()
    return HandPipeline(load_detector(DETECTOR, imgsz=320), load_reconstructor(RECONSTRUCTOR),
                        conf=0.05, max_hands=max_hands, compile=True, compile_backend='eager')


def test_live_parameters_and_hand_counts_never_recompile(scene):
    pipe = _compiled_pipeline()
    pipe.warm_up(CAMERA_HW)
    assert pipe.graphs.report()['compilations'] > 0  # the warm-up did compile
    rng = np.random.default_rng(3)
    counts = set()
    for frame in range(100):
        if frame % 10 == 0:
            pipe.configure(conf=float(rng.uniform(0.02, 0.3)), iou=float(rng.uniform(0.5, 0.9)),
                           max_hands=(1, 3, 8, 2, 5, 8, 4, 1, 6, 7)[frame // 10])
        counts.add(len(pipe(scene)))
    report = pipe.graphs.report()
    assert report['compilations_after_warm_up'] == 0, report
    assert report['graph_misses'] == 0 and pipe.graphs.take_warnings() == []
    assert len(counts) >= 6, counts  # batches of many sizes (hand counts) ran


def test_a_graph_miss_is_counted_and_described_once(scene):
    pipe = _compiled_pipeline(max_hands=2)
    pipe.warm_up(CAMERA_HW)
    pipe(scene)
    assert pipe.graphs.report()['graph_misses'] == 0
    other = np.ascontiguousarray(scene[:240])  # a camera size that was not warmed up
    pipe(other)
    pipe(other)
    report = pipe.graphs.report()
    assert report['graph_misses'] == 1 and report['compilations_after_warm_up'] > 0, report
    warnings = pipe.graphs.take_warnings()
    assert len(warnings) == 1 and '640x240' in warnings[0], warnings
    assert pipe.graphs.take_warnings() == []
    # prepare_for() warms a new size up front instead (what the node does per camera size).
    assert pipe.prepare_for((200, 320)) > 0 and pipe.prepare_for((200, 320)) == 0.0
    pipe(np.zeros((200, 320, 3), np.uint8))
    assert pipe.graphs.report()['graph_misses'] == 1


def test_several_cameras_are_warmed_up_for_every_batch_size(scene):
    # A node with 3 cameras: a batch holds 1, 2 or 3 frames (whichever cameras had one), and
    # each count is a graph of the detector; up to 3 x max_hands crops for the reconstructor.
    pipe = _compiled_pipeline(max_hands=2)
    saved = []
    pipe.compile_cache = type('Cache', (), {'save': lambda self: saved.append(1)})()
    assert pipe.prepare_for(CAMERA_HW, frames=3) > 0
    assert pipe.prepare_for(CAMERA_HW, frames=2) == 0.0  # covered by the 3-frame warm-up
    # What the warm-up compiled persists (the next start loads it), saved once.
    assert saved == [1]
    for count in (3, 1, 2, 3):
        results = pipe.process_batch([scene] * count)
        assert [len(hands) for hands in results] == [2] * count
    report = pipe.graphs.report()
    assert report['compilations_after_warm_up'] == 0 and report['graph_misses'] == 0, report
    pipe.process_batch([scene] * 4)  # a fourth camera was not planned for: a counted miss
    assert pipe.graphs.report()['graph_misses'] == 1
    assert 'a batch of 4 frames' in pipe.graphs.take_warnings()[0]


def test_max_hands_above_the_table_is_a_counted_miss_then_prepared_again(scene):
    pipe = _compiled_pipeline(max_hands=2)
    pipe.warm_up(CAMERA_HW)
    rows = pipe.detector.table_size
    pipe.configure(max_hands=rows + 4)   # the detector's graphs have the table's shape
    assert pipe.detector.table_size == rows + 4
    assert pipe.graphs.report()['graph_misses'] == 1
    warnings = pipe.graphs.take_warnings()
    assert len(warnings) == 1 and f'detector table of {rows + 4} rows' in warnings[0], warnings
    # What the node does before each batch: the size is warmed up again, once.
    assert pipe.prepare_for(CAMERA_HW) > 0 and pipe.prepare_for(CAMERA_HW) == 0.0
    assert len(pipe(scene)) > rows   # more than the old table held (conf 0.05 finds 20)
    report = pipe.graphs.report()
    assert report['graph_misses'] == 1 and report['compilations_after_warm_up'] == 0, report
