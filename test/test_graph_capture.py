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
``graph_mode: capture``: CUDA graphs recorded from the eager networks, checked on the CPU.

A CUDA graph replays the recorded kernels on the buffers they were recorded with, so what can
go wrong on the host side is the bookkeeping: a static input not refreshed, an output not
read before the next replay, a signature that captures again. ``ReplayOnCpu`` stands in for
CUDA's recorder with the same contract (a replay reads only the static inputs and writes the
static outputs in place), so a pipeline with captured graphs must give the eager pipeline's
hands frame after frame while thresholds, hand counts and buckets change, with no capture
after warm-up. Whether the networks may be captured at all (no host read, no transfer inside
them) is checked on the simulated GPU. Recording real graphs needs a GPU: bench/gpu_check.py.
"""

import contextlib
from unittest import mock
import weakref

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from wilor_ros.detector import load_detector
from wilor_ros.graph_capture import CapturedGraphs, CudaGraphs
from wilor_ros.loading import load_pipeline, PipelineLoadError
from wilor_ros.options import PipelineOptions
from wilor_ros.pipeline import HandPipeline
from wilor_ros.reconstructor import load_reconstructor

CAMERA_HW = (360, 640)


def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


class ReplayOnCpu:
    """CUDA's recorder on the CPU: a replay runs the function on the static inputs, in place."""

    @staticmethod
    def record(function, inputs):
        outputs = function(*inputs)
        return (function, inputs, outputs), outputs

    @staticmethod
    def replay(graph):
        function, inputs, outputs = graph
        for static, value in zip(_tensors(outputs), _tensors(function(*inputs))):
            static.copy_(value)


class _ReadsBeforeCapture(TorchFunctionMode):
    """Collect (weakly) the tensors a capture reads that existed before it began."""

    def __init__(self):
        super().__init__()
        self.made, self.external = {}, {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for tensor in _tensors([list(args), kwargs]):
            ref = self.made.get(id(tensor))
            if ref is None or ref() is not tensor:
                self.external[id(tensor)] = weakref.ref(tensor)
        result = func(*args, **kwargs)
        for tensor in _tensors(result):
            self.made[id(tensor)] = weakref.ref(tensor)
        return result


class ReplayChecksLiveness(ReplayOnCpu):
    """
    ReplayOnCpu that also refuses a replay whose capture read a tensor freed since.

    A CUDA graph reads every tensor at the address it had during the capture (what
    ``torch.cuda.graph(check_input_liveness=True)`` checks): a tensor made before the capture
    (weights, static inputs, cached constants) must outlive the graph. The capture runs with
    ``torch.cuda.is_current_stream_capturing()`` true, as in a real one.
    """

    @staticmethod
    def record(function, inputs):
        function(*inputs)  # the warm-up
        watch = _ReadsBeforeCapture()
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch('torch.cuda.is_available', return_value=True))
            stack.enter_context(mock.patch('torch.cuda.is_current_stream_capturing',
                                           return_value=True))
            with watch:
                outputs = function(*inputs)
        return (function, inputs, outputs, list(watch.external.values())), outputs

    @staticmethod
    def replay(graph):
        function, inputs, outputs, external = graph
        assert all(ref() is not None for ref in external), 'a captured tensor was freed'
        ReplayOnCpu.replay((function, inputs, outputs))


@pytest.fixture(scope='module')
def scene():
    import cv2

    # Four copies of the fixture scene: the fixture detector finds 8 hands at conf 0.05.
    half = cv2.resize(np.load(DETECT_NPZ)['image'], (CAMERA_HW[1] // 2, CAMERA_HW[0] // 2))
    return np.vstack([np.hstack([half, half[:, ::-1]]), np.hstack([half[::-1], half])])


def test_captured_graphs_replay_static_buffers_per_signature():
    calls = []

    def double(x, scale):
        calls.append(scale)
        return {'y': x * scale}

    graphs = CapturedGraphs('double', double, ReplayOnCpu)
    first = graphs(torch.ones(2), 2)
    second = graphs(torch.full((2,), 3.0), 2)
    # The same static output, rewritten by the replay from the copied input.
    assert first is second and second['y'].tolist() == [6.0, 6.0]
    graphs(torch.ones(3), 2)  # another shape: another graph
    graphs(torch.ones(2), 5)  # another non-tensor argument: another graph
    assert graphs.compilations == 3 and graphs.as_dict()['graphs'] == 3


def test_a_captured_pipeline_gives_the_eager_hands_without_capturing_again(scene):
    def pipeline(**options):
        return HandPipeline(load_detector(DETECTOR, imgsz=320), load_reconstructor(RECONSTRUCTOR),
                            conf=0.05, max_hands=8, **options)

    captured = pipeline(compile=True, graph_mode='capture', capture_backend=ReplayOnCpu)
    eager = pipeline()
    captured.warm_up(CAMERA_HW)
    report = captured.graphs.report()
    assert report['compilations'] > 0 and report['compilations_after_warm_up'] == 0
    counts = set()
    for frame in range(24):
        settings = {'conf': (0.05, 0.3, 0.5)[frame // 8], 'iou': (0.7, 0.5)[frame % 2],
                    'max_hands': (8, 3, 1, 5)[frame // 2 % 4]}
        captured.configure(**settings)
        eager.configure(**settings)
        image = np.roll(scene, 7 * frame, axis=1)
        ours, theirs = captured(image), eager(image)
        counts.add(len(ours))
        assert [h.is_right for h in ours] == [h.is_right for h in theirs]
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)
            # Buckets pad the batch (other BLAS blocking): rounding only.
            np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-5)
    assert len(counts) >= 3, counts
    report = captured.graphs.report()
    assert report['compilations_after_warm_up'] == 0 and report['graph_misses'] == 0, report


def test_the_networks_are_capturable_on_a_gpu(simulated_pipeline):
    # Inside a CUDA graph capture nothing may cross to the host: no copy, no host read.
    tracer, pipe = simulated_pipeline
    with tracer:
        thresholds = pipe.detector._threshold_tensors(0.3, 0.7, 2)
        image = tracer.device_tensor(torch.rand(2, 3, 480, 640))
        crops = tracer.device_tensor(torch.rand(4, 3, 256, 256))
        tracer.reset()
        with torch.inference_mode():
            rows, valid = pipe.detector.forward_fixed(image, *thresholds)
            outputs = pipe.reconstructor(crops)
    assert rows.shape[0] == 2 and outputs['pred_vertices'].shape[0] == 4
    assert tracer.events == [], tracer.events


def test_capture_needs_a_cuda_device():
    with pytest.raises(PipelineLoadError, match='needs a CUDA device'):
        load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', compile=True,
                      graph_mode='capture')
    with pytest.raises(ValueError, match='graph_mode'):
        PipelineOptions(graph_mode='jit')


def test_a_captured_detector_graph_survives_other_image_sizes():
    # Frames of another size decode other anchors; the graph of the first size must not read
    # the anchors it was captured with from the head's cache, which keeps one size only.
    detector = load_detector(DETECTOR, imgsz=320).capture(ReplayChecksLiveness)
    thresholds = detector._threshold_tensors(0.05, 0.7, 4)
    generator = torch.Generator().manual_seed(0)
    square = torch.rand((1, 3, 320, 320), generator=generator)
    wide = torch.rand((1, 3, 256, 320), generator=generator)
    eager = detector.forward_fixed(square, *thresholds, 4)
    detector._forward(square, *thresholds, 4)
    detector._forward(wide, *thresholds, 4)  # another graph; the cache now holds its anchors
    replayed = detector._forward(square, *thresholds, 4)
    assert detector.compile_counter.compilations == 2
    for ours, theirs in zip(replayed, eager):
        torch.testing.assert_close(ours, theirs)


def test_graphs_are_recorded_on_the_device_of_their_inputs(monkeypatch):
    # A pipeline on cuda:1 while cuda:0 is current: warm-up and capture must run on cuda:1's
    # streams, or the graph records nothing of the work (it runs on cuda:1's own stream).
    calls = []

    class Stream:
        def __init__(self, device=None):
            self.device = device
            calls.append(('stream', device))

        def wait_stream(self, other):
            pass

    @contextlib.contextmanager
    def on_device(device):
        calls.append(('device', device))
        yield

    @contextlib.contextmanager
    def graph(cuda_graph, pool=None, stream=None, capture_error_mode='global'):
        calls.append(('capture', stream.device if stream is not None else None))
        yield

    monkeypatch.setattr(torch.cuda, 'Stream', Stream)
    monkeypatch.setattr(torch.cuda, 'device', on_device)
    monkeypatch.setattr(torch.cuda, 'current_stream', lambda device=None: Stream(device))
    monkeypatch.setattr(torch.cuda, 'stream', lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, 'graph', graph)
    monkeypatch.setattr(torch.cuda, 'CUDAGraph', object)
    static = torch.ones(2, device='meta')
    CudaGraphs.record(lambda x, scale: x * scale, [static, 2])
    meta = torch.device('meta')
    assert calls[0] == ('device', meta) and ('capture', meta) in calls, calls
    assert all(device == meta for kind, device in calls if kind == 'stream'), calls
