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
The detector of batch t+1 is queued before the host waits for batch t's results (issue 19.4).

``HandPipeline.process_stream`` (and ``HandStream.process_stream`` above it) launch batch t's
reconstruction, then batch t+1's upload and detection (on a second CUDA stream on a GPU), and
only then wait for batch t's results. On the simulated GPU of gpu_tracer.py the order of the
queued work against the host's blocking waits is checked: the detector of batch t+1 is queued
before batch t's second wait (with ``process_batch`` batch by batch it comes after it), each
batch still costs exactly 2 waits, and the results equal ``process_batch``'s. With tracking,
the stream equals ``HandStream.process`` batch by batch (the tracker decides each batch's
sides after it saw the previous batch).
"""

import contextlib

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.detector import load_detector
from wilor_ros.hand_stream import CameraFrame, HandStream, TrackingOptions
from wilor_ros.pipeline import HandPipeline
from wilor_ros.reconstructor import load_reconstructor
from wilor_ros.streams import DetectionStream

BATCHES = 3


@pytest.fixture(scope='module')
def frames():
    image = np.load(DETECT_NPZ)['image']
    return [[np.roll(image, 5 * batch + 2 * camera, axis=1) for camera in range(2)]
            for batch in range(BATCHES)]


def _logged(tracer, pipe, run):
    """Run ``run()``; return its result and when each network was queued (waits so far)."""
    log = []
    detect_batch, network = pipe.detector.detect_batch, pipe._network

    def detect(*args, **kwargs):
        log.append(('detect', tracer.count(blocking=True)))
        return detect_batch(*args, **kwargs)

    def reconstruct(crops):
        log.append(('reconstruct', tracer.count(blocking=True)))
        return network(crops)

    pipe.detector.detect_batch, pipe._network = detect, reconstruct
    try:
        with tracer:
            run()  # caches fill up
            tracer.reset()
            log.clear()
            result = run()
    finally:
        del pipe.detector.detect_batch
        pipe._network = network
    return result, log


def test_the_next_detector_is_queued_before_the_wait_for_results(simulated_pipeline, frames):
    tracer, pipe = simulated_pipeline
    streamed, log = _logged(tracer, pipe, lambda: list(pipe.process_stream(
        {'images': batch} for batch in frames)))
    # Waits per batch t: 2t + 1 (detections) and 2t + 2 (results). Batch t+1's detector is
    # queued after batch t's first wait and before its second.
    assert log == [('detect', 0), ('reconstruct', 1)] + [
        entry for t in range(1, BATCHES)
        for entry in (('detect', 2 * t - 1), ('reconstruct', 2 * t + 1))], log
    assert tracer.count(blocking=True) == 2 * BATCHES, tracer.blocking()
    assert tracer.count('sync') == 0
    one_by_one, log = _logged(tracer, pipe, lambda: [pipe.process_batch(batch)
                                                     for batch in frames])
    # Batch by batch, each detector waits for the previous batch's results.
    assert [entry for entry in log if entry[0] == 'detect'] == [
        ('detect', 2 * t) for t in range(BATCHES)], log
    assert len(streamed) == BATCHES
    for ours_batch, theirs_batch in zip(streamed, one_by_one):
        for ours, theirs in zip(ours_batch, theirs_batch):
            assert len(ours) == len(theirs) > 0
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(a.box, b.box)
                np.testing.assert_array_equal(a.vertices, b.vertices)


def test_tracked_stream_equals_batch_by_batch(frames):
    networks = load_detector(DETECTOR, 'cpu'), load_reconstructor(RECONSTRUCTOR, 'cpu')
    batches = [[CameraFrame(image, 0.1 * t, f'cam{camera}') for camera, image in enumerate(batch)]
               for t, batch in enumerate(frames)]
    streamed = HandStream(HandPipeline(*networks, conf=0.3), TrackingOptions())
    stepped = HandStream(HandPipeline(*networks, conf=0.3), TrackingOptions())
    results = list(streamed.process_stream(iter(batches)))
    assert len(results) == BATCHES
    for batch, ours in zip(batches, results):
        theirs = stepped.process(batch)
        assert [r.camera for r in ours] == [r.camera for r in theirs] == ['cam0', 'cam1']
        for a, b in zip(ours, theirs):
            assert [h.track_id for h in a.hands] == [h.track_id for h in b.hands]
            assert len(a.hands) > 0
            for x, y in zip(a.hands, b.hands):
                np.testing.assert_allclose(x.keypoints_3d, y.keypoints_3d, atol=1e-9)


def test_a_failed_batch_is_retried_and_the_stream_goes_on(frames):
    networks = load_detector(DETECTOR, 'cpu'), load_reconstructor(RECONSTRUCTOR, 'cpu')
    batches = [[CameraFrame(image, 0.1 * t, f'cam{camera}') for camera, image in enumerate(batch)]
               for t, batch in enumerate(frames)]
    # Batch 1 holds an image the pipeline refuses (float, not uint8): a ValueError.
    bad = [batches[1][0], CameraFrame(frames[1][1].astype(np.float32), 0.1, 'cam1')]
    retried = []

    def retry(failed, error):
        retried.append((failed, error))
        return ['retried']

    stream = HandStream(HandPipeline(*networks, conf=0.3))
    results = list(stream.process_stream([batches[0], bad, batches[2]], retry=retry))
    assert len(retried) == 1 and retried[0][0] == bad
    assert isinstance(retried[0][1], ValueError) and 'uint8' in str(retried[0][1])
    assert results[1] == ['retried']
    reference = HandStream(HandPipeline(*networks, conf=0.3))
    for index in (0, 2):
        expected = reference.process(batches[index])
        assert [len(r.hands) for r in results[index]] == [len(r.hands) for r in expected]
        for ours, theirs in zip(results[index], expected):
            for a, b in zip(ours.hands, theirs.hands):
                np.testing.assert_array_equal(a.keypoints_3d, b.keypoints_3d)
    # Without retry the error is raised, after the results of the batch before it.
    stream = HandStream(HandPipeline(*networks, conf=0.3))
    produced = stream.process_stream([batches[0], bad, batches[2]])
    assert len(next(produced)) == 2
    with pytest.raises(ValueError, match='uint8'):
        next(produced)


def test_the_side_stream_waits_for_frames_already_on_the_gpu(simulated_pipeline, monkeypatch):
    # A frame given as a GPU tensor was written on the current stream (its upload, a
    # conversion): the detector's stream must not read it before that work is done.
    from gpu_tracer import CUDA

    tracer, _ = simulated_pipeline
    waits = []

    class SideStream:
        device = CUDA

        def wait_stream(self, other):
            waits.append(other)

    monkeypatch.setattr(torch.cuda, 'current_stream', lambda device=None: ('current', device))
    monkeypatch.setattr(torch.cuda, 'stream', lambda stream: contextlib.nullcontext())
    stream = DetectionStream('cpu')
    stream.stream = SideStream()
    with stream.running([np.zeros((4, 4, 3), np.uint8)]):
        pass
    assert waits == []  # host frames are uploaded on the side stream itself
    with tracer:
        frame = tracer.device_tensor(torch.zeros((4, 4, 3), dtype=torch.uint8))
        with stream.running([frame]):
            pass
    assert waits == [('current', CUDA)]
