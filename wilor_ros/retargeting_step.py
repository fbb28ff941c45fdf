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
Retargeting as an after-tracking step: which hand drives each robot hand, and when to stop.

:class:`RetargetingStep` (cheap, on the inference thread) picks per camera and side the *driving
hand* (the tracked hand of that side with the highest score; it keeps control while it is in
the frame, even if another hand of its side scores higher) and gates it on the detector's
per-joint confidences at the joints retargeting uses. Its decision per side goes into
``outputs['retargeting']``: :class:`Target` ``retarget`` (new joints), ``hold`` (the driving
hand is missing or too uncertain: repeat the last joint targets, for at most ``hold_time``
seconds of image time) or nothing (stop publishing).

:class:`RetargetingWorker` runs the optimisation (milliseconds per hand) on its own thread, so
it never delays ``hands``: it keeps only the newest request per robot hand (an older one not yet
started is dropped, so the delay stays one solve) and hands each result to a sink. Errors are
counted and kept for :meth:`RetargetingWorker.take_errors`.
"""

import dataclasses
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from wilor_ros.skeleton import finger_joints, WRIST

# The joints every retargeting mode uses: the wrist and the palm (the operator frame) and the
# fingers' joints (position mode) and tips (vector, DexPilot).
RETARGETING_JOINTS = (WRIST,) + tuple(j for finger in ('thumb', 'index', 'middle', 'ring',
                                                       'pinky') for j in finger_joints(finger))


@dataclasses.dataclass(frozen=True)
class Target:
    """
    The decision for one robot hand in one frame.

    ``action``: 'retarget' (``keypoints``: the driving hand's 21 joints, camera frame) or
    'hold' (repeat the last targets); ``track_id`` / ``confidence``: the driving hand's.
    """

    action: str
    track_id: str
    confidence: float
    keypoints: Optional[np.ndarray] = None


def hand_confidence(hand):
    """Return the mean detector confidence of the joints retargeting uses (1 without them)."""
    if hand.keypoint_confidence is None:
        return 1.0
    return float(np.mean(np.asarray(hand.keypoint_confidence)[list(RETARGETING_JOINTS)]))


@dataclasses.dataclass
class _Driver:
    track_id: Optional[str] = None
    last_good: Optional[float] = None


class RetargetingStep:
    """
    Choose and gate the driving hand of each side (see the module docs); no optimisation here.

    ``sides``: the human hand sides followed ('right', 'left'); ``min_confidence``: the least
    mean joint confidence to retarget; ``hold_time``: seconds the last targets are held.
    """

    name = 'retargeting'

    def __init__(self, sides, min_confidence=0.5, hold_time=0.5):
        """Keep the settings; the drivers are chosen per camera as frames come."""
        self.sides = tuple(sides)
        self.min_confidence = float(min_confidence)
        self.hold_time = float(hold_time)
        self._drivers: Dict[Tuple[str, str], _Driver] = {}

    def _decide(self, camera, side, hands, stamp):
        driver = self._drivers.setdefault((camera, side), _Driver())
        own = [hand for hand in hands if hand.side == side]
        hand = next((h for h in own if h.track_id and h.track_id == driver.track_id), None)
        if hand is None and own:
            hand = max(own, key=lambda h: h.score)
            driver.track_id = hand.track_id
        if hand is not None:
            confidence = hand_confidence(hand)
            if confidence >= self.min_confidence:
                driver.last_good = stamp
                return Target('retarget', hand.track_id, confidence,
                              np.asarray(hand.keypoints_3d, dtype=np.float64))
        if driver.last_good is not None and 0.0 <= stamp - driver.last_good <= self.hold_time:
            return Target('hold', driver.track_id or '', 0.0)
        driver.last_good = None
        return None

    def __call__(self, results):
        """Add ``outputs['retargeting']``: {side: Target} of every camera (sides with one)."""
        for result in results:
            decisions = {}
            for side in self.sides:
                target = self._decide(result.camera, side, result.hands, result.stamp)
                if target is not None:
                    decisions[side] = target
            result.outputs[self.name] = decisions


class RetargetingWorker:
    """
    Solve retargeting requests on a thread of its own; results go to ``sink``.

    ``retargeters``: {key: HandRetargeter} (a key per robot hand, e.g. (camera, side));
    ``sink(key, context, joint_names, positions)`` is called on the worker thread with each
    result (``context``: what the request carried, e.g. the image header).
    """

    def __init__(self, retargeters: Dict[Any, Any], sink: Callable):
        """Start the thread."""
        self.retargeters = dict(retargeters)
        self.sink = sink
        self._pending: Dict[Any, Tuple[Target, Any]] = {}
        self._last: Dict[Any, np.ndarray] = {}
        self._condition = threading.Condition()
        self._stopped = False
        self._busy = False
        self.errors = 0
        self.dropped = 0
        self.solved = 0
        self._new_errors = []
        self._thread = threading.Thread(target=self._run, name='wilor_retargeting', daemon=True)
        self._thread.start()

    def submit(self, key, target, context):
        """Queue ``target`` for robot hand ``key`` (replacing one not yet started); no wait."""
        with self._condition:
            if key in self._pending:
                self.dropped += 1
            self._pending[key] = (target, context)
            self._condition.notify()

    def take_errors(self):
        """Return the error texts since the last call (and forget them)."""
        with self._condition:
            errors, self._new_errors = self._new_errors, []
        return errors

    def wait_idle(self, timeout=10.0):
        """Wait until every submitted request is done; False on timeout (for tools and tests)."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._pending and not self._busy, timeout=timeout)

    def stop(self, timeout=5.0):
        """Stop the thread (a solve under way finishes first)."""
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._thread.join(timeout=timeout)

    def _run(self):
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending or self._stopped)
                if self._stopped:
                    return
                key = next(iter(self._pending))
                target, context = self._pending.pop(key)
                self._busy = True
            try:
                self._solve(key, target, context)
            except Exception as error:  # Counted and reported; the thread carries on.
                with self._condition:
                    self.errors += 1
                    self._new_errors.append(f'{key}: {type(error).__name__}: {error}')
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _solve(self, key, target, context):
        retargeter = self.retargeters[key]
        if target.action == 'retarget':
            positions = retargeter.retarget(target.keypoints)
            if not np.all(np.isfinite(positions)):
                raise ValueError('non-finite joint targets')
            self._last[key] = positions
            self.solved += 1
        else:
            positions = self._last.get(key)
            if positions is None:
                return  # Nothing to hold yet.
        self.sink(key, context, retargeter.joint_names, positions)
