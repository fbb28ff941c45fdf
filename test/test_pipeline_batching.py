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
Several cameras in one real batch: what a batch of frames costs on a (simulated) GPU.

On the simulated GPU of gpu_tracer.py the kernel launches of ``process_batch`` are counted
for 1, 2, 4 and 8 frames of 2 hands each: one letterbox, one detector forward, one NMS for all
frames, one crop plan upload and one gather for all hands, one reconstructor batch. An 8-frame
batch may cost at most 1.5x the launches of one frame (it cost 5x when each frame had its own
detector call), and the host still waits for the device twice per batch. The batched results
must equal the frames run one by one.
"""

from fixture_paths import DETECT_NPZ
import numpy as np
import pytest

FRAME_COUNTS = (1, 2, 4, 8)
# Launches of an 8-frame batch over those of one frame (the bound).
MAX_LAUNCH_RATIO = 1.5


@pytest.fixture(scope='module')
def frames():
    image = np.load(DETECT_NPZ)['image']
    # Different pixels per camera (shifted views of the scene), the same size.
    return [np.roll(image, 3 * index, axis=1) for index in range(max(FRAME_COUNTS))]


def _launches(tracer, pipe, frames):
    with tracer:
        pipe.process_batch(frames)  # caches (letterbox taps, constants) fill up
        tracer.reset()
        with tracer.count_kernels() as kernels:
            results = pipe.process_batch(frames)
    return kernels.total, tracer, results


def test_eight_cameras_cost_at_most_one_and_a_half_frames_of_launches(simulated_pipeline, frames):
    tracer, pipe = simulated_pipeline
    launches = {}
    for count in FRAME_COUNTS:
        launches[count], _, results = _launches(tracer, pipe, frames[:count])
        assert [len(hands) for hands in results] == [2] * count
    ratios = {count: launches[count] / launches[1] for count in FRAME_COUNTS}
    print('kernel launches per batch:', launches, 'ratio to one frame:', ratios)
    assert ratios[8] <= MAX_LAUNCH_RATIO, (launches, ratios)
    assert launches[2] <= launches[4] <= launches[8]


@pytest.mark.parametrize('count', [1, 4, 8])
def test_a_batch_waits_for_the_device_twice(simulated_pipeline, frames, count):
    tracer, pipe = simulated_pipeline
    _, tracer, _ = _launches(tracer, pipe, frames[:count])
    events = [str(event) for event in tracer.events]
    assert tracer.count('d2h') == 2, events
    assert len(tracer.blocking()) == 2, events
    # The frames go up asynchronously, then the crop plans: no blocking upload.
    assert tracer.count('h2d', blocking=True) == 0, events
    bad = [event for event in events if event.split(' ')[0] in ('numpy', 'mixed', 'sync')]
    assert not bad, bad


def test_the_batch_equals_the_frames_one_by_one(simulated_pipeline, frames):
    tracer, pipe = simulated_pipeline
    with tracer:
        batched = pipe.process_batch(frames[:4])
        single = [pipe(frame) for frame in frames[:4]]
    for ours, theirs in zip(batched, single):
        assert [h.is_right for h in ours] == [h.is_right for h in theirs]
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.box, b.box)
            np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)
