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
The one path from frames to results: pipeline, each camera's tracker, after-tracking steps.

:class:`HandStream` owns what happens to a batch of frames (one per camera) between the
camera and the outputs, for the node's worker and ``wilor-infer`` alike::

    CameraFrame per camera -> HandPipeline.process_batch (one detector and one reconstructor
    batch for all cameras; each camera's tracker decides its hands' sides before the crops
    are mirrored) -> each camera's HandTracker (ids, smoothing) -> after-tracking steps
    -> CameraHands per camera

An *after-tracking step* is any callable with a ``name`` that takes the batch's list of
:class:`CameraHands` and adds what it computes to each one's ``outputs[name]`` (gestures,
robot-hand targets, a fusion of several cameras' hands are such steps). Steps run in order,
after every camera is tracked, so a step sees all cameras of the batch.
"""

import collections
import dataclasses
import functools
import itertools
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Protocol, Sequence

import numpy as np

from wilor_ros.hand import HandResult
from wilor_ros.smoothing import SmoothingConfig
from wilor_ros.tracking import HandTracker

__all__ = ['AfterTrackingStep', 'CameraFrame', 'CameraHands', 'HandStream', 'TrackingOptions']


@dataclasses.dataclass
class CameraFrame:
    """
    One camera's frame in a batch.

    ``image``: uint8 HxWx3 BGR (numpy or a tensor); ``stamp``: seconds (the image's stamp:
    the tracker's clock); ``camera``: the camera's name ('' for a single camera);
    ``camera_matrix``: its 3x3 K, or None for WiLoR's focal heuristic; ``depth``: an aligned
    depth image (uint16 mm or float32 m), or None.
    """

    image: Any
    stamp: float
    camera: str = ''
    camera_matrix: Optional[np.ndarray] = None
    depth: Optional[np.ndarray] = None


@dataclasses.dataclass
class CameraHands:
    """
    What a batch gives for one camera.

    ``hands``: tracked (ids, smoothed) when tracking is on, else as reconstructed;
    ``raw_hands``: the same hands unsmoothed (with their ids when tracked); ``outputs``: what
    each after-tracking step added, by the step's name.
    """

    camera: str
    stamp: float
    frame: CameraFrame
    hands: List[HandResult]
    raw_hands: List[HandResult]
    outputs: Dict[str, Any] = dataclasses.field(default_factory=dict)


class AfterTrackingStep(Protocol):
    """A step after tracking: ``step(results)`` adds ``results[i].outputs[step.name]``."""

    name: str

    def __call__(self, results: List[CameraHands]) -> None:
        """Compute this step's outputs for every camera of the batch."""


@dataclasses.dataclass(frozen=True)
class TrackingOptions:
    """Per-camera tracker settings (see :class:`~wilor_ros.tracking.HandTracker`)."""

    max_missed: int = 5
    smoothing: Optional[SmoothingConfig] = None
    side_hysteresis: int = 5
    max_speed: float = 5.0

    def settings(self):
        """Return the keyword arguments HandTracker and HandTracker.configure take."""
        return {'max_missed': self.max_missed, 'smoothing': self.smoothing,
                'side_hysteresis': self.side_hysteresis, 'max_speed': self.max_speed}


class HandStream:
    """
    Frames of one or more cameras in, tracked hands per camera out (see the module docstring).

    ``pipeline``: a :class:`~wilor_ros.pipeline.HandPipeline`; ``tracking``: a
    :class:`TrackingOptions`, or None for no tracking (hands as reconstructed, no ids);
    ``steps``: after-tracking steps, run in order.
    """

    def __init__(self, pipeline, tracking: Optional[TrackingOptions] = None,
                 steps: Sequence[Callable] = ()):
        """Keep the pipeline; trackers are made per camera on its first frame."""
        self.pipeline = pipeline
        self.tracking = tracking
        self.steps = list(steps)
        self._trackers: Dict[str, HandTracker] = {}

    def configure_tracking(self, tracking: Optional[TrackingOptions]):
        """
        Change the tracker settings from the next batch (None: stop tracking).

        Existing trackers keep their tracks (a new smoothing restarts them, see
        :meth:`HandTracker.configure`); while tracking is off they wait unused, so ids are
        never reused when it comes back.
        """
        if tracking is not None and tracking != self.tracking:
            for tracker in self._trackers.values():
                tracker.configure(**tracking.settings())
        self.tracking = tracking

    @property
    def trackers(self):
        """Return the trackers by camera name (made so far)."""
        return dict(self._trackers)

    def tracker(self, camera):
        """Return the tracker of ``camera`` (made on first use), or None without tracking."""
        if self.tracking is None:
            return None
        if camera not in self._trackers:
            self._trackers[camera] = HandTracker(**self.tracking.settings())
        return self._trackers[camera]

    def process(self, frames: Sequence[CameraFrame],
                compute_vertices: bool = True) -> List[CameraHands]:
        """
        Run one batch: at most one frame per camera when tracking; one CameraHands per frame.

        Raises what the pipeline raises (ValueError for unusable input, RuntimeError for a
        failed network run); the trackers are then unchanged.
        """
        frames = list(frames)
        found = self.pipeline.process_batch(compute_vertices=compute_vertices,
                                            **self._pipeline_batch(frames))
        return self._after_pipeline(frames, found)

    def process_stream(self, batches: Iterable[Sequence[CameraFrame]],
                       compute_vertices: bool = True,
                       retry: Optional[Callable] = None) -> Iterator[List[CameraHands]]:
        """
        Run a sequence of batches, each batch's detector overlapping the previous one's rest.

        Yields what :meth:`process` returns for each batch, in order (offline inputs, where the
        next frames are already there: :meth:`wilor_ros.pipeline.HandPipeline.process_stream`).
        Each batch's trackers and after-tracking steps run before the next batch's sides are
        decided, as with :meth:`process` called batch by batch. When a batch fails
        (ValueError, RuntimeError), ``retry(frames, error)`` gives its results instead (e.g.
        frame by frame with :meth:`process`) and the stream goes on with the batches after it;
        without ``retry`` the error is raised.
        """
        source, taken, replay = iter(batches), collections.deque(), []

        def pipeline_batches(items):
            for frames in items:
                frames = list(frames)
                taken.append(frames)
                yield self._pipeline_batch(frames)

        while True:
            found_batches = self.pipeline.process_stream(
                pipeline_batches(itertools.chain(replay, source)), compute_vertices)
            failure = None
            while failure is None:
                try:
                    found = next(found_batches)
                except StopIteration:
                    return
                except (ValueError, RuntimeError) as error:
                    if retry is None or not taken:
                        raise
                    # The first batch without results failed; those taken after it restart.
                    failure = (taken.popleft(), error)
                    replay = list(taken)
                    taken.clear()
                    continue
                yield self._after_pipeline(taken.popleft(), found)
            yield retry(*failure)

    def _pipeline_batch(self, frames):
        """Return the pipeline's arguments for ``frames``: images, matrices, depths, sides."""
        trackers = [self.tracker(frame.camera) for frame in frames]
        cameras = [frame.camera for frame in frames if self.tracking is not None]
        if len(set(cameras)) != len(cameras):
            raise ValueError('a tracked batch holds at most one frame per camera (a tracker '
                             'must see each frame before the next)')
        # Each camera's tracker decides the sides of its hands before cropping, so a one-frame
        # label flip of the detector never mirrors a mesh.
        sides = [None if tracker is None
                 else functools.partial(tracker.resolve_sides, stamp=frame.stamp)
                 for frame, tracker in zip(frames, trackers)]
        return {'images': [frame.image for frame in frames],
                'camera_matrices': [frame.camera_matrix for frame in frames],
                'depths': [frame.depth for frame in frames], 'sides': sides}

    def _after_pipeline(self, frames, found):
        """Track each frame's hands, run the after-tracking steps; one CameraHands per frame."""
        results = []
        for frame, hands in zip(frames, found):
            tracker = self.tracker(frame.camera)
            raw = hands
            if tracker is not None:
                hands = tracker.update(hands, frame.stamp)
                raw = tracker.last_raw
            results.append(CameraHands(camera=frame.camera, stamp=frame.stamp, frame=frame,
                                       hands=hands, raw_hands=raw))
        for step in self.steps:
            step(results)
        return results
