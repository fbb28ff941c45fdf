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
Hand tracking across frames: stable ids for WiLoR's independent per-frame detections.

Each frame's hands are matched to the live tracks by an optimal assignment
(``scipy.optimize.linear_sum_assignment``) over a cost mixing box overlap and 3-D wrist
distance. A pair can only match when the sides agree (a left hand never continues a right
track, so hands of different sides that cross cannot swap ids) and when it passes a gate: box
IoU of at least ``iou_threshold`` or wrist distance of at most ``max_wrist_distance``. Both
are measured against the track's position predicted at the new stamp with its last velocity,
so a fast hand that was missed for a frame or two is still found. Unmatched hands open new
tracks with fresh ids ('1', '2', ...; never reused, also not after ``reset``, so a consumer
keyed by id never confuses an old hand with a new one). A track missed for more than
``max_missed`` consecutive frames is retired; a hand that returns within ``max_missed``
frames keeps its id.

Tracking is always on; temporal smoothing (``wilor_ros.smoothing``) runs per track when a
``SmoothingConfig`` is given.
"""

import dataclasses
import math
from typing import List, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from wilor_ros.finite import split_finite
from wilor_ros.hand import HandResult
from wilor_ros.skeleton import WRIST
from wilor_ros.smoothing import HandSmoother, SmoothingConfig

# Cost of a forbidden pair; any finite value above every allowed cost works.
_FORBIDDEN = 1e6


def box_iou(boxes_a, boxes_b):
    """Intersection over union of boxes (N, 4) and (M, 4) in x_min, y_min, x_max, y_max."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


class _Track:
    """One hand followed over time: raw last observation, velocity, and its smoother."""

    def __init__(self, track_id, hand, stamp, smoother):
        self.track_id = track_id
        self.is_right = bool(hand.is_right)
        self.missed = 0
        self.smoother = smoother
        self.box_velocity = np.zeros(4)
        self.wrist_velocity = np.zeros(3)
        self.box = np.asarray(hand.box, dtype=np.float64).copy()
        self.wrist = np.asarray(hand.keypoints_3d[WRIST], dtype=np.float64).copy()
        self.stamp = stamp

    def observe(self, hand, stamp):
        box = np.asarray(hand.box, dtype=np.float64)
        wrist = np.asarray(hand.keypoints_3d[WRIST], dtype=np.float64)
        dt = stamp - self.stamp
        if dt > 0:
            # Velocity from raw observations, only used to place the association gate; averaged
            # over about two frames because WiLoR's depth noise (~1.5 cm) makes single
            # differences of the wrist noisy.
            self.box_velocity += 0.5 * ((box - self.box) / dt - self.box_velocity)
            self.wrist_velocity += 0.5 * ((wrist - self.wrist) / dt - self.wrist_velocity)
        self.box = box.copy()
        self.wrist = wrist.copy()
        self.stamp = stamp
        self.missed = 0

    def predicted(self, stamp):
        """Box and wrist extrapolated to ``stamp`` at constant velocity."""
        dt = max(stamp - self.stamp, 0.0)
        return self.box + self.box_velocity * dt, self.wrist + self.wrist_velocity * dt


class HandTracker:
    """
    Give WiLoR's per-frame hands stable ``track_id`` values and optionally smooth them.

    ``max_missed``: consecutive frames a track may go unseen before it is retired.
    ``iou_threshold``: minimum box IoU (with the predicted box) that allows a match; boxes
    that do not overlap never pass this gate, even with a threshold of 0.
    ``max_wrist_distance``: metres; maximum 3-D wrist distance that allows a match.
    ``smoothing``: ``SmoothingConfig`` to smooth each track, or None for raw outputs.
    """

    def __init__(self, max_missed: int = 5, iou_threshold: float = 0.1,
                 max_wrist_distance: float = 0.15,
                 smoothing: Optional[SmoothingConfig] = None):
        """Check and store the parameters."""
        if int(max_missed) < 0:
            raise ValueError(f'HandTracker max_missed must be >= 0, got {max_missed}')
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f'HandTracker iou_threshold must be in [0, 1], got {iou_threshold}')
        if not max_wrist_distance >= 0:
            raise ValueError(
                f'HandTracker max_wrist_distance must be >= 0 m, got {max_wrist_distance}')
        self.max_missed = int(max_missed)
        self.iou_threshold = float(iou_threshold)
        self.max_wrist_distance = float(max_wrist_distance)
        self.smoothing = smoothing
        self.tracks: List[_Track] = []
        self.stamp = None
        # True when the latest update() reset the tracker because its stamp went backwards.
        self.time_jumped_back = False
        self._next_id = 1

    def configure(self, max_missed=None, smoothing=False):
        """
        Change settings between frames; ValueError when invalid (nothing changes then).

        ``max_missed`` (None keeps it) applies from the next update. A new ``smoothing``
        (a SmoothingConfig, or None to switch smoothing off; False keeps the current one) that
        differs from the current one restarts the tracks from the next frame, since filters
        with other settings cannot continue the old state; ids are never reused.
        """
        if max_missed is not None and int(max_missed) < 0:
            raise ValueError(f'HandTracker max_missed must be >= 0, got {max_missed}')
        if smoothing is not False and smoothing != self.smoothing:
            self.reset()
            self.smoothing = smoothing
        if max_missed is not None:
            self.max_missed = int(max_missed)

    def reset(self):
        """Drop every track (ids are not reused) and forget the last stamp."""
        self.tracks = []
        self.stamp = None

    def update(self, hands: List[HandResult], stamp: float) -> List[HandResult]:
        """
        Associate this frame's ``hands`` (seen at ``stamp`` s) with the tracks.

        Returns copies of ``hands`` in the same order with ``track_id`` set, smoothed when the
        tracker has a smoothing config. A stamp earlier than the previous one (a replayed bag,
        a clock reset) resets the tracker and sets ``time_jumped_back``; a repeated stamp is
        processed as a frame with no elapsed time. Hands with a non-finite number are dropped
        (they cannot be associated and would poison the tracks and filters for good); a
        non-finite stamp raises ValueError and changes nothing.
        """
        stamp = float(stamp)
        if not math.isfinite(stamp):
            raise ValueError(f'HandTracker stamp must be a finite number of seconds, got {stamp}')
        hands = split_finite(hands)[0]
        self.time_jumped_back = self.stamp is not None and stamp < self.stamp
        if self.time_jumped_back:
            self.reset()
        self.stamp = stamp

        matches = self._associate(hands, stamp)
        matched_tracks = set()
        results = []
        for index, hand in enumerate(hands):
            track = matches.get(index)
            if track is None:
                smoother = HandSmoother(self.smoothing) if self.smoothing is not None else None
                track = _Track(str(self._next_id), hand, stamp, smoother)
                self._next_id += 1
                self.tracks.append(track)
            else:
                track.observe(hand, stamp)
            matched_tracks.add(id(track))
            if track.smoother is not None:
                hand = track.smoother(hand, stamp)
            results.append(dataclasses.replace(hand, track_id=track.track_id))

        for track in self.tracks:
            if id(track) not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return results

    @np.errstate(over='ignore', invalid='ignore')
    def _associate(self, hands, stamp):
        """Map detection index -> track by minimum-cost assignment within the gates."""
        if not hands or not self.tracks:
            return {}
        predictions = [track.predicted(stamp) for track in self.tracks]
        track_boxes = np.stack([box for box, _ in predictions])
        track_wrists = np.stack([wrist for _, wrist in predictions])
        boxes = np.stack([np.asarray(h.box, dtype=np.float64) for h in hands])
        wrists = np.stack([np.asarray(h.keypoints_3d[WRIST], dtype=np.float64) for h in hands])

        iou = box_iou(track_boxes, boxes)
        distance = np.linalg.norm(track_wrists[:, None, :] - wrists[None, :, :], axis=-1)
        same_side = (np.array([t.is_right for t in self.tracks])[:, None]
                     == np.array([bool(h.is_right) for h in hands])[None, :])
        overlapping = (iou > 0.0) & (iou >= self.iou_threshold)
        allowed = same_side & (overlapping | (distance <= self.max_wrist_distance))
        # Both terms are ~1 at the edge of their gate, so neither dominates; a track seen
        # recently is preferred over one that has been missing for a while.
        scale = max(self.max_wrist_distance, 1e-6)
        missed = np.array([t.missed for t in self.tracks], dtype=np.float64)[:, None]
        cost = (1.0 - iou) + np.minimum(distance / scale, 2.0) + 0.01 * missed
        # Extreme (finite) inputs can still extrapolate to inf / NaN; such a pair never matches.
        allowed &= np.isfinite(cost)
        cost = np.where(allowed, cost, _FORBIDDEN)

        rows, cols = linear_sum_assignment(cost)
        return {int(c): self.tracks[r] for r, c in zip(rows, cols) if allowed[r, c]}
