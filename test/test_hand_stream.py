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
The one path from frames to results (wilor_ros.hand_stream) and the written backend interface.

The stream must give per camera exactly what the pipeline and a HandTracker give when chained
by hand, run after-tracking steps over all cameras of a batch, and the pipeline must work with
any object that offers the protocols of wilor_ros.backend (here: plain wrappers that hide
everything else of the torch models).
"""

import pathlib

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest

from wilor_ros.backend import (check_detector, check_reconstructor, DETECTION_KEYS,
                               RECONSTRUCTION_KEYS)
from wilor_ros.detector import load_detector
from wilor_ros.hand_stream import CameraFrame, HandStream, TrackingOptions
from wilor_ros.loading import load_pipeline, PipelineLoadError
from wilor_ros.options import PipelineOptions
from wilor_ros.pipeline import HandPipeline
from wilor_ros.reconstructor import load_reconstructor
from wilor_ros.tracking import HandTracker

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'wilor_ros'


@pytest.fixture(scope='module')
def networks():
    return load_detector(DETECTOR, 'cpu'), load_reconstructor(RECONSTRUCTOR, 'cpu')


@pytest.fixture(scope='module')
def image():
    return np.load(DETECT_NPZ)['image']


def _pipeline(networks, **options):
    detector, reconstructor = networks
    return HandPipeline(detector, reconstructor, conf=0.3, **options)


def _moved(image, shift):
    return np.roll(image, shift, axis=1)


def test_the_stream_equals_pipeline_then_tracker_per_camera(networks, image):
    stream = HandStream(_pipeline(networks), TrackingOptions())
    by_hand = _pipeline(networks)
    trackers = {'left': HandTracker(), 'right': HandTracker()}
    for step in range(3):
        frames = [CameraFrame(_moved(image, 4 * step), 0.1 * step, 'left'),
                  CameraFrame(image[:, ::-1].copy(), 0.1 * step, 'right')]
        results = stream.process(frames)
        assert [result.camera for result in results] == ['left', 'right']
        for frame, result in zip(frames, results):
            tracker = trackers[frame.camera]
            expected = tracker.update(
                by_hand(frame.image, sides=lambda b, s, r, t=tracker, f=frame:
                        t.resolve_sides(b, s, r, f.stamp)), frame.stamp)
            assert len(result.hands) == len(expected) > 0
            for ours, theirs in zip(result.hands, expected):
                assert ours.track_id == theirs.track_id
                # One batch of both cameras against one frame at a time: float32 sums in
                # another order (the fixture's depths are ~16 m, where one ulp is 1.9e-6 m).
                np.testing.assert_allclose(ours.keypoints_3d, theirs.keypoints_3d,
                                           rtol=1e-6, atol=1e-6)
            assert [h.track_id for h in result.raw_hands] == [h.track_id for h in expected]


def test_without_tracking_hands_are_as_reconstructed_and_frames_may_repeat(networks, image):
    pipe = _pipeline(networks)
    results = HandStream(pipe).process([CameraFrame(image, 0.0), CameraFrame(image, 0.0)])
    expected = pipe(image)
    for result in results:
        assert result.hands is result.raw_hands
        assert [h.track_id for h in result.hands] == [h.track_id for h in expected]
        np.testing.assert_array_equal([h.box for h in result.hands],
                                      [h.box for h in expected])


def test_a_tracked_batch_refuses_two_frames_of_one_camera(networks, image):
    stream = HandStream(_pipeline(networks), TrackingOptions())
    with pytest.raises(ValueError, match='one frame per camera'):
        stream.process([CameraFrame(image, 0.0, 'a'), CameraFrame(image, 0.1, 'a')])
    assert stream.trackers['a'].tracks == []


def test_after_tracking_steps_see_every_camera_in_order(networks, image):
    seen = []

    class CountHands:
        name = 'count'

        def __call__(self, results):
            seen.append([result.camera for result in results])
            for result in results:
                result.outputs[self.name] = len(result.hands)

    class Total:
        name = 'total'

        def __call__(self, results):
            total = sum(result.outputs['count'] for result in results)
            for result in results:
                result.outputs[self.name] = total

    stream = HandStream(_pipeline(networks), TrackingOptions(), steps=[CountHands(), Total()])
    results = stream.process([CameraFrame(image, 0.0, 'a'), CameraFrame(image * 0, 0.0, 'b')])
    assert seen == [['a', 'b']]
    assert results[0].outputs['count'] == len(results[0].hands) > 0
    assert results[1].outputs['count'] == 0
    assert results[0].outputs['total'] == results[1].outputs['total'] == len(results[0].hands)


def test_tracking_can_pause_without_reusing_ids(networks, image):
    stream = HandStream(_pipeline(networks), TrackingOptions(max_missed=0))
    first = stream.process([CameraFrame(image, 0.0)])[0].hands
    stream.configure_tracking(None)
    assert stream.process([CameraFrame(image * 0, 0.1)])[0].hands == []
    stream.configure_tracking(TrackingOptions(max_missed=0))
    stream.process([CameraFrame(image * 0, 0.2)])  # the old tracks expire
    again = stream.process([CameraFrame(image, 0.3)])[0].hands
    assert min(h.track_id for h in again) > max(h.track_id for h in first)


class _DetectorOnly:
    """Only what HandDetectorBackend names: proof the pipeline needs nothing else."""

    def __init__(self, detector):
        self._detector = detector
        self.device = detector.device
        self.table_size = detector.table_size

    def detect_batch(self, images, conf, iou, max_det):
        self._detector.table_size = self.table_size
        found = self._detector.detect_batch(images, conf, iou, max_det)
        return {key: found[key] for key in DETECTION_KEYS}


class _ReconstructorOnly:
    """Only what HandReconstructorBackend names."""

    def __init__(self, reconstructor):
        self._reconstructor = reconstructor
        self.device = reconstructor.device
        self.crop_size = reconstructor.crop_size
        self.focal_length = reconstructor.focal_length
        self.faces = reconstructor.faces

    def __call__(self, crops):
        outputs = self._reconstructor(crops)
        return {key: outputs[key] for key in RECONSTRUCTION_KEYS}


def test_the_pipeline_runs_on_any_backend_with_the_written_interface(networks, image):
    detector, reconstructor = networks
    wrapped = HandPipeline(_DetectorOnly(detector), _ReconstructorOnly(reconstructor), conf=0.3)
    expected = _pipeline(networks)(image, np.diag([600.0, 600.0, 1.0]) + [[0, 0, 320],
                                                                          [0, 0, 240],
                                                                          [0, 0, 0]])
    found = wrapped(image, np.diag([600.0, 600.0, 1.0]) + [[0, 0, 320], [0, 0, 240],
                                                           [0, 0, 0]])
    assert len(found) == len(expected) > 0
    for ours, theirs in zip(found, expected):
        np.testing.assert_array_equal(ours.vertices, theirs.vertices)
    assert check_detector(detector) is detector
    assert check_reconstructor(reconstructor) is reconstructor
    with pytest.raises(TypeError, match='detect_batch'):
        HandPipeline(object(), reconstructor)
    with pytest.raises(TypeError, match='crop_size'):
        HandPipeline(detector, lambda crops: crops)


def test_the_table_grows_with_max_hands(networks, image):
    pipe = _pipeline(networks)
    pipe.configure(max_hands=pipe.detector.table_size + 3)
    assert pipe.detector.table_size >= pipe.max_hands
    assert len(pipe(image)) > 0


def test_options_are_checked_once_for_every_caller():
    with pytest.raises(ValueError, match='conf'):
        PipelineOptions(conf=1.5)
    with pytest.raises(ValueError, match='precision'):
        PipelineOptions(precision='int3')
    with pytest.raises(ValueError, match='max_hands'):
        PipelineOptions().replace(max_hands=0)
    with pytest.raises(PipelineLoadError, match='iou'):
        load_pipeline(DETECTOR, RECONSTRUCTOR, iou=-1)
    pipe = load_pipeline(DETECTOR, RECONSTRUCTOR, PipelineOptions(device='cpu', max_hands=3),
                         conf=0.25)
    assert (pipe.conf, pipe.max_hands, pipe.precision) == (0.25, 3, 'fp32')


def test_pipeline_plus_tracker_is_assembled_in_one_place_only():
    # The node's worker and wilor-infer go through HandStream; nothing else chains a tracker's
    # side decision into the pipeline or updates a tracker with the pipeline's hands.
    users = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob('*.py')
                   if 'tracker.resolve_sides' in path.read_text()
                   or 'tracker.update(' in path.read_text())
    assert users == ['hand_stream.py'], users
