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
Batched detection: ``HandDetector.detect_batch`` against one frame at a time.

Exact equality with ``detect_fixed`` per frame (same and mixed sizes), the batched NMS against
the numpy reference, kernel launches on the simulated GPU of test/gpu_tracer.py (8 frames cost
about what one does, no host wait), and ``torch.compile`` guards on the CPU (the 'eager'
backend traces with Dynamo's real guards without compiling kernels): no recompilation on the
second call or when conf / iou / max_det change, and the recompile limit is reported.
"""

import functools

from fixture_paths import DETECTOR, FIXTURES
from gpu_tracer import CUDA, SimulatedCuda
import numpy as np
import pytest
from reference_nms import box_iou_greedy_keep
import torch

from wilor_ros.compile_counters import recompile_limit_name
from wilor_ros.detector import greedy_nms_fixed, load_detector

KEYS = ('valid', 'boxes', 'scores', 'classes', 'is_right', 'keypoints')
# A low threshold, so the 16-row table fills up on the fixture images.
CONF = 0.1
# Letterbox size for the tests that count kernels or compilations: neither depends on it, and
# a 160 px input keeps them fast on a loaded CPU.
SMALL_IMGSZ = 160


@pytest.fixture(scope='module')
def frames():
    ref = np.load(FIXTURES / 'detector' / 'detect.npz')
    image, other = ref['image'], ref['image_2']
    return {
        'a': image,                                  # 480 x 640
        'a_mirrored': np.ascontiguousarray(image[:, ::-1]),
        'b': other,                                  # 333 x 463: another network input size
        'a_cropped': np.ascontiguousarray(image[5:]),  # 475 x 640: same input, own letterbox
    }


@pytest.fixture(scope='module')
def detector():
    return load_detector(DETECTOR)


@pytest.fixture(scope='module')
def single(detector, frames):
    @functools.lru_cache(maxsize=None)
    def detect(name, max_det):
        return detector.detect_fixed(frames[name], conf=CONF, max_det=max_det)
    return detect


def _assert_frame_equal(batch, index, expected):
    # The first rows of the batch's table against a single frame's (max_det rows).
    for key in KEYS:
        assert torch.equal(batch[key][index, :len(expected[key])], expected[key]), key


@pytest.mark.parametrize('names', [
    ['a'],
    ['a', 'a_mirrored'],
    ['a', 'a_mirrored', 'a_mirrored', 'a'],
    ['a', 'b', 'a_cropped', 'a_mirrored'],       # mixed sizes, interleaved
    ['b', 'a_cropped'],
], ids=['1', '2', '4', 'mixed-4', 'mixed-2'])
def test_batch_equals_one_frame_at_a_time(detector, frames, single, names):
    found = detector.detect_batch([frames[name] for name in names], conf=CONF, max_det=16)
    table = detector.table_size
    assert found['boxes'].shape == (len(names), table, 4)
    assert found['keypoints'].shape == (len(names), table, 21, 3)
    assert found['classes'].dtype == torch.int64 and found['valid'].dtype == torch.bool
    for index, name in enumerate(names):
        _assert_frame_equal(found, index, single(name, 16))
    assert found['valid'][:, 0].all() and found['valid'].sum() > len(names)


def test_max_det_is_a_mask_over_the_fixed_table(detector, frames, single):
    found = detector.detect_batch([frames['a'], frames['b']], conf=CONF, max_det=3)
    assert found['valid'].shape == (2, detector.table_size)
    assert not found['valid'][:, 3:].any()
    for index, name in enumerate(('a', 'b')):
        _assert_frame_equal(found, index, single(name, 3))
    with pytest.raises(ValueError, match='table size 16'):
        detector.detect_batch([frames['a']], max_det=17)
    # The single-frame forms keep any max_det (their table grows past table_size).
    assert detector.detect_fixed(frames['a'], conf=CONF, max_det=40)['valid'].shape == (40,)


@pytest.mark.parametrize('threshold', [0.5, 0.7, 1.0])
def test_batched_nms_matches_the_reference(threshold):
    rng = np.random.default_rng(int(threshold * 10))
    frames, count = 3, 300
    corner = rng.uniform(0, 100, (frames, count, 2)).astype(np.float32)
    size = rng.uniform(0, 40, (frames, count, 2)).astype(np.float32)
    size[:, ::17] = 0                                # zero-area boxes (IoU 0 / 0)
    boxes = np.concatenate((corner, corner + size), -1)
    boxes[:, 1::29] = boxes[:, ::29][:, :boxes[:, 1::29].shape[1]]  # duplicates
    scores = rng.choice(np.linspace(0, 1, 40), (frames, count)).astype(np.float32)  # ties
    scores[rng.uniform(size=scores.shape) < 0.3] = -np.inf                      # no candidate
    steps = 60
    index, valid = greedy_nms_fixed(torch.from_numpy(boxes), torch.from_numpy(scores),
                                    threshold, steps)
    early_index, early_valid = greedy_nms_fixed(torch.from_numpy(boxes),
                                                torch.from_numpy(scores), threshold, steps,
                                                early_exit=True)
    for frame in range(frames):
        candidates = np.flatnonzero(scores[frame] > -np.inf)
        keep = candidates[box_iou_greedy_keep(boxes[frame, candidates],
                                              scores[frame, candidates], threshold, steps)]
        kept = int(valid[frame].sum())
        assert kept == len(keep) and valid[frame, :kept].all()
        np.testing.assert_array_equal(index[frame, :kept].numpy(), keep)
        width = early_valid.shape[1]
        assert torch.equal(early_index[frame], index[frame, :width])
        assert torch.equal(early_valid[frame], valid[frame, :width])
        assert not valid[frame, width:].any()


@pytest.fixture(scope='module')
def simulated():
    tracer = SimulatedCuda()
    with tracer:
        detector = load_detector(DETECTOR, CUDA, imgsz=SMALL_IMGSZ)
    return tracer, detector


def test_kernel_launches_hardly_grow_with_frames(simulated, frames):
    tracer, detector = simulated
    kernels = {}
    with tracer:
        uploaded = [torch.from_numpy(frames['a']).to(CUDA) for _ in range(8)]
        detector.detect_batch(uploaded[:1], conf=0.3, max_det=10)  # letterbox taps, anchors
        for count in (1, 2, 4, 8):
            tracer.reset()
            with tracer.count_kernels() as launches:
                found = detector.detect_batch(uploaded[:count], conf=0.3, max_det=10)
            kernels[count] = launches.total
            assert not tracer.events, [str(event) for event in tracer.events]
            assert found['boxes'].device == CUDA and found['boxes'].shape[0] == count
        # One frame at a time on the device letterbox: the same detections.
        for index in (0, 7):
            _assert_frame_equal(found, index, detector.detect_fixed(uploaded[index], conf=0.3,
                                                                    max_det=10))
    # Measured: 453, 454, 454, 454 (before: 497 per frame, 3976 for 8 frames).
    assert kernels[8] <= 1.5 * kernels[1], kernels


def test_host_frames_go_up_in_one_copy(simulated, frames):
    tracer, detector = simulated
    with tracer:
        detector.detect_batch([frames['a'], frames['a_mirrored']], conf=0.3, max_det=10)
        tracer.reset()
        detector.detect_batch([frames['a'], frames['a_mirrored'], frames['a']], conf=0.3,
                              max_det=10)
    assert [event.kind for event in tracer.events] == ['h2d'], \
        [str(event) for event in tracer.events]


def test_nms_kernels_per_step(simulated):
    tracer, _ = simulated
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 600, (4, 6300, 2)).astype(np.float32)
    boxes = np.concatenate((corner, corner + rng.uniform(5, 90, corner.shape)), -1)
    scores = rng.uniform(0, 1, (4, 6300)).astype(np.float32)
    counts = []
    with tracer:
        boxes = tracer.device_tensor(torch.from_numpy(boxes))
        scores = tracer.device_tensor(torch.from_numpy(scores))
        for steps in (4, 5):
            with tracer.count_kernels() as launches:
                greedy_nms_fixed(boxes, scores, 0.7, steps)
            counts.append(launches.total)
    # 12 per step for all 4 frames together (before: 23 per step and frame).
    assert counts[1] - counts[0] <= 12, counts


def test_the_kernel_counter_skips_views_and_host_work():
    tracer = SimulatedCuda()
    with tracer:
        on_device = torch.arange(12.0).to(CUDA)
        with tracer.count_kernels() as launches:
            on_device.view(3, 4).t()[0]             # views: nothing launched
            torch.arange(5.0) * 2                    # host work: nothing on the device
            (on_device + 1).sum()                    # two kernels
            torch.zeros(3, device=CUDA)              # a fill
    assert launches.total == 3, launches.ops


def _varying_thresholds(call):
    # conf, iou and max_det changing every few calls.
    return ((0.05, 0.2, 0.3)[call // 3 % 3], (0.5, 0.7)[call // 5 % 2],
            (1, 5, 10, 16)[call // 4 % 4])


def test_compiled_detector_compiles_once(frames):
    compiled = load_detector(DETECTOR, imgsz=SMALL_IMGSZ).compile(mode=None, backend='eager')
    eager = load_detector(DETECTOR, imgsz=SMALL_IMGSZ)
    image = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    image[200:520, 300:900] = frames['a'][80:400, :600]
    torch._dynamo.reset()
    counter = compiled.compile_counter
    compiled.detect_batch([image], conf=0.3, max_det=10)
    assert (counter.compilations, counter.recompilations) == (1, 0)
    compiled.detect_batch([image], conf=0.3, max_det=10)
    assert (counter.compilations, counter.recompilations) == (1, 0)  # before: recompiled
    for call in range(30):
        conf, iou, max_det = _varying_thresholds(call)
        found = compiled.detect_batch([image], conf=conf, iou=iou, max_det=max_det)
        expected = eager.detect_batch([image], conf=conf, iou=iou, max_det=max_det)
        _assert_frame_equal(found, 0, {key: value[0] for key, value in expected.items()})
    assert counter.as_dict() == {'compilations': 1, 'recompilations': 0,
                                 'recompile_limit_hits': 0, 'cudagraph_recordings': 0}
    assert counter.limit_warning() is None


def test_the_recompile_limit_is_reported_once():
    detector = load_detector(DETECTOR, imgsz=SMALL_IMGSZ).compile(mode=None, backend='eager')
    eager = load_detector(DETECTOR, imgsz=SMALL_IMGSZ)
    rng = np.random.default_rng(1)
    torch._dynamo.reset()
    counter = detector.compile_counter
    # Each size is a new network input shape: a new graph (dynamic=False), until the limit.
    sizes = [(160, 160), (96, 160), (160, 96), (64, 160)]
    with torch._dynamo.config.patch(**{recompile_limit_name(): 2}):
        for height, width in sizes:
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            found = detector.detect_batch([image], conf=0.01)
            expected = eager.detect_batch([image], conf=0.01)
            _assert_frame_equal(found, 0, {key: value[0] for key, value in expected.items()})
    assert counter.compilations == 2 and counter.recompilations == 1
    assert counter.recompile_limit_hits == 1
    warning = counter.limit_warning()
    assert recompile_limit_name() in warning and 'eager' in warning
    assert counter.limit_warning() is None
