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
(``scipy.optimize.linear_sum_assignment``) over a cost mixing box overlap, 3-D wrist
distance and a side term. A pair can only match when it passes a gate: box IoU of at least
``iou_threshold`` or wrist distance of at most ``max_wrist_distance``. The side is not a gate:
the detector's left/right label flips now and then for a frame or two, and such a flip must
not end a track. A side mismatch costs ``SIDE_MISMATCH_COST`` instead, more than any
geometric difference between two candidate pairings usually is, so two real hands crossing
(different sides, overlapping boxes) still keep their ids. Both
are measured against the track's position predicted at the new stamp with its last velocity,
so a fast hand that was missed for a frame or two is still found. Unmatched hands open new
tracks with fresh ids ('1', '2', ...; never reused, also not after ``reset``, so a consumer
keyed by id never confuses an old hand with a new one). A track missed for more than
``max_missed`` consecutive frames is retired; a hand that returns within ``max_missed``
frames keeps its id.

Handedness: each track votes over its detections' labels with hysteresis (a counter clipped to
+-``side_hysteresis``; the side changes only when the counter crosses zero), so a track keeps
its side through label flips shorter than ``side_hysteresis + 1`` frames and follows a lasting
change. Call :meth:`HandTracker.resolve_sides` between detection and cropping (the pipeline's
``sides=`` argument does) so that the crop is mirrored by the track's side: a flipped label
would otherwise mirror the mesh (a ~200 mm jump of the fingers).

A hand whose wrist moved faster than ``max_speed`` (m/s) since its last observation cannot be
the same physical motion (a mis-association, a depth outlier): its smoother restarts from the
new observation instead of smoothing through the jump.

Tracking is always on; temporal smoothing (``wilor_ros.smoothing``) runs per track when a
``SmoothingConfig`` is given.
"""

import dataclasses
from typing import List, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from wilor_ros.hand import HandResult
from wilor_ros.skeleton import WRIST
from wilor_ros.smoothing import HandSmoother, SmoothingConfig

# Cost of a forbidden pair; any finite value above every allowed cost works.
_FORBIDDEN = 1e6
# Cost added to a pair whose detector label differs from the track's side. The geometric
# cost of a pair lies in [0, 3]; 1.5 lets geometry decide only when it is clearly better.
SIDE_MISMATCH_COST = 1.5


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

    def __init__(self, track_id, hand, stamp, smoother, side_hysteresis=5):
        self.track_id = track_id
        self.is_right = bool(hand.is_right)
        self.side_hysteresis = int(side_hysteresis)
        self.side_votes = 1 if self.is_right else -1
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

    def vote_side(self, is_right):
        """Count one detector label; the side changes only when the votes cross zero."""
        limit = max(self.side_hysteresis, 1)
        self.side_votes = int(np.clip(self.side_votes + (1 if is_right else -1), -limit, limit))
        if self.side_votes > 0:
            self.is_right = True
        elif self.side_votes < 0:
            self.is_right = False

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
    ``side_hysteresis``: label votes a track's side holds (flips of up to this many frames are
    ignored). ``max_speed``: m/s; a faster wrist jump restarts the track's smoother.
    """

    def __init__(self, max_missed: int = 5, iou_threshold: float = 0.1,
                 max_wrist_distance: float = 0.15,
                 smoothing: Optional[SmoothingConfig] = None, side_hysteresis: int = 5,
                 max_speed: float = 5.0):
        """Check and store the parameters."""
        if int(max_missed) < 0:
            raise ValueError(f'HandTracker max_missed must be >= 0, got {max_missed}')
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f'HandTracker iou_threshold must be in [0, 1], got {iou_threshold}')
        if not max_wrist_distance >= 0:
            raise ValueError(
                f'HandTracker max_wrist_distance must be >= 0 m, got {max_wrist_distance}')
        if int(side_hysteresis) < 0:
            raise ValueError(f'HandTracker side_hysteresis must be >= 0, got {side_hysteresis}')
        if not max_speed > 0:
            raise ValueError(f'HandTracker max_speed must be > 0 m/s, got {max_speed}')
        self.side_hysteresis = int(side_hysteresis)
        self.max_speed = float(max_speed)
        # Smoother restarts caused by physically impossible jumps, since construction.
        self.filter_resets = 0
        # Side decisions of resolve_sides() for the frame about to be updated:
        # (stamp, [(box, track), ...]).
        self._resolved = None
        # The latest update's hands with their track ids but unsmoothed (for 'hands_raw').
        self.last_raw: List[HandResult] = []
        self.max_missed = int(max_missed)
        self.iou_threshold = float(iou_threshold)
        self.max_wrist_distance = float(max_wrist_distance)
        self.smoothing = smoothing
        self.tracks: List[_Track] = []
        self.stamp = None
        # True when the latest update() reset the tracker because its stamp went backwards.
        self.time_jumped_back = False
        self._next_id = 1

    def configure(self, max_missed=None, smoothing=False, side_hysteresis=None,
                  max_speed=None):
        """
        Change settings between frames; ValueError when invalid (nothing changes then).

        ``max_missed`` (None keeps it) applies from the next update. A new ``smoothing``
        (a SmoothingConfig, or None to switch smoothing off; False keeps the current one) that
        differs from the current one restarts the tracks from the next frame, since filters
        with other settings cannot continue the old state; ids are never reused.
        """
        if max_missed is not None and int(max_missed) < 0:
            raise ValueError(f'HandTracker max_missed must be >= 0, got {max_missed}')
        if side_hysteresis is not None and int(side_hysteresis) < 0:
            raise ValueError(f'HandTracker side_hysteresis must be >= 0, got {side_hysteresis}')
        if max_speed is not None and not max_speed > 0:
            raise ValueError(f'HandTracker max_speed must be > 0 m/s, got {max_speed}')
        if side_hysteresis is not None:
            self.side_hysteresis = int(side_hysteresis)
            for track in self.tracks:
                track.side_hysteresis = self.side_hysteresis
        if max_speed is not None:
            self.max_speed = float(max_speed)
        if smoothing is not False and smoothing != self.smoothing:
            self.reset()
            self.smoothing = smoothing
        if max_missed is not None:
            self.max_missed = int(max_missed)

    def reset(self):
        """Drop every track (ids are not reused) and forget the last stamp."""
        self.tracks = []
        self.stamp = None
        self._resolved = None

    def resolve_sides(self, boxes, scores, is_right, stamp):
        """
        Decide each detection's side from its track, before the hands are cropped.

        ``boxes`` (N, 4), ``scores`` (N,) (unused, for the pipeline's ``sides`` signature),
        ``is_right`` (N,): the detector's labels, ``stamp``: the frame's time (s). Detections
        are associated with the tracks by box overlap (the 3-D wrist is not known yet); a
        matched detection's label is counted as a vote and the track's side is returned; an
        unmatched one keeps its label. The next :meth:`update` with the same stamp continues
        exactly these tracks. Returns a bool array (N,).
        """
        del scores
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        labels = np.asarray(is_right, dtype=bool).reshape(-1).copy()
        stamp = float(stamp)
        self._resolved = None
        if self.stamp is not None and stamp < self.stamp:
            return labels  # update() will reset the tracker: no track to ask.
        if not len(boxes) or not self.tracks:
            return labels
        track_boxes = np.stack([track.predicted(stamp)[0] for track in self.tracks])
        iou = box_iou(track_boxes, boxes)
        allowed = (iou > 0.0) & (iou >= self.iou_threshold)
        cost = np.where(allowed, self._pair_cost(iou, 0.0, labels), _FORBIDDEN)
        rows, cols = linear_sum_assignment(cost)
        resolved = []
        sides = labels.copy()
        for row, col in zip(rows, cols):
            if allowed[row, col]:
                track = self.tracks[row]
                track.vote_side(labels[col])
                sides[col] = track.is_right
                resolved.append((boxes[col].copy(), track))
        self._resolved = (stamp, resolved)
        return sides

    def _pair_cost(self, iou, distance, labels):
        """Cost (tracks x detections) of geometry, side mismatch and recency."""
        # Both geometric terms are ~1 at the edge of their gate, so neither dominates; a track
        # seen recently is preferred over one that has been missing for a while.
        scale = max(self.max_wrist_distance, 1e-6)
        missed = np.array([t.missed for t in self.tracks], dtype=np.float64)[:, None]
        mismatch = (np.array([t.is_right for t in self.tracks])[:, None]
                    != np.asarray(labels, dtype=bool)[None, :])
        return ((1.0 - iou) + np.minimum(np.asarray(distance) / scale, 2.0) + 0.01 * missed
                + SIDE_MISMATCH_COST * mismatch)

    def update(self, hands: List[HandResult], stamp: float) -> List[HandResult]:
        """
        Associate this frame's ``hands`` (seen at ``stamp`` s) with the tracks.

        Returns copies of ``hands`` in the same order with ``track_id`` set, smoothed when the
        tracker has a smoothing config (the unsmoothed copies with ids: ``last_raw``). A stamp
        earlier than the previous one (a replayed bag, a clock reset) resets the tracker and
        sets ``time_jumped_back``; a repeated stamp is processed as a frame with no elapsed time.
        """
        stamp = float(stamp)
        self.time_jumped_back = self.stamp is not None and stamp < self.stamp
        if self.time_jumped_back:
            self.reset()
        self.stamp = stamp

        forced = self._take_resolved(hands, stamp)
        matches = self._associate(hands, stamp, forced)
        matched_tracks = set()
        results, raw = [], []
        for index, hand in enumerate(hands):
            track = matches.get(index)
            if track is None:
                smoother = HandSmoother(self.smoothing) if self.smoothing is not None else None
                track = _Track(str(self._next_id), hand, stamp, smoother, self.side_hysteresis)
                self._next_id += 1
                self.tracks.append(track)
            else:
                if index not in forced:
                    track.vote_side(hand.is_right)
                self._reset_on_jump(track, hand, stamp)
                track.observe(hand, stamp)
            matched_tracks.add(id(track))
            raw.append(dataclasses.replace(hand, track_id=track.track_id))
            if track.smoother is not None:
                hand = track.smoother(hand, stamp)
            results.append(dataclasses.replace(hand, track_id=track.track_id))

        for track in self.tracks:
            if id(track) not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        self.last_raw = raw
        return results

    def _take_resolved(self, hands, stamp):
        """Return the detection index -> track pairs :meth:`resolve_sides` fixed for this stamp."""
        resolved, self._resolved = self._resolved, None
        if resolved is None or resolved[0] != stamp:
            return {}
        forced, used = {}, set()
        for index, hand in enumerate(hands):
            box = np.asarray(hand.box, dtype=np.float64)
            for number, (resolved_box, track) in enumerate(resolved[1]):
                if number not in used and track in self.tracks and np.array_equal(
                        box, resolved_box):
                    forced[index] = track
                    used.add(number)
                    break
        return forced

    def _reset_on_jump(self, track, hand, stamp):
        """Restart the smoother when the wrist moved faster than max_speed."""
        dt = stamp - track.stamp
        if track.smoother is None or dt <= 0:
            return
        wrist = np.asarray(hand.keypoints_3d[WRIST], dtype=np.float64)
        if np.linalg.norm(wrist - track.wrist) / dt > self.max_speed:
            track.smoother.reset()
            self.filter_resets += 1

    def _associate(self, hands, stamp, forced=None):
        """Map detection index -> track by minimum-cost assignment within the gates."""
        matches = dict(forced or {})
        free_tracks = [t for t in self.tracks if all(t is not m for m in matches.values())]
        free_hands = [i for i in range(len(hands)) if i not in matches]
        if not free_hands or not free_tracks:
            return matches
        tracks, self.tracks = self.tracks, free_tracks
        try:
            found = self._assign([hands[i] for i in free_hands], stamp)
        finally:
            self.tracks = tracks
        matches.update({free_hands[i]: track for i, track in found.items()})
        return matches

    def _assign(self, hands, stamp):
        """Minimum-cost assignment of ``hands`` to ``self.tracks`` within the gates."""
        predictions = [track.predicted(stamp) for track in self.tracks]
        track_boxes = np.stack([box for box, _ in predictions])
        track_wrists = np.stack([wrist for _, wrist in predictions])
        boxes = np.stack([np.asarray(h.box, dtype=np.float64) for h in hands])
        wrists = np.stack([np.asarray(h.keypoints_3d[WRIST], dtype=np.float64) for h in hands])

        iou = box_iou(track_boxes, boxes)
        distance = np.linalg.norm(track_wrists[:, None, :] - wrists[None, :, :], axis=-1)
        overlapping = (iou > 0.0) & (iou >= self.iou_threshold)
        allowed = overlapping | (distance <= self.max_wrist_distance)
        cost = self._pair_cost(iou, distance, [bool(h.is_right) for h in hands])
        cost = np.where(allowed, cost, _FORBIDDEN)

        rows, cols = linear_sum_assignment(cost)
        return {int(c): self.tracks[r] for r, c in zip(rows, cols) if allowed[r, c]}
