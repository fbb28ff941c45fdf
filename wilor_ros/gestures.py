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
Static hand gestures from a hand's 3D joints: the ROS4HRI ``hri_msgs/Gesture`` hand constants.

The classifier reads the hand's articulation, not its image: per finger the *curl*, how far it
folds back: the angle between the palm's direction at the finger (wrist -> MCP) and the chord
from its MCP to its tip, sideways spreading (in the palm plane) taken out; for the thumb, the
angle between its metacarpal and its MCP -> tip chord (:func:`finger_curls`). Angles between
the hand's own joints are the same whatever the wrist orientation and the camera's viewpoint,
for both sides. Only THUMB_UP / THUMB_DOWN need a direction: the thumb's (MCP ->
tip) against the camera's up axis (the image's up, -y of the optical frame, for a level
camera).

Each gesture is a pattern of finger states (extended / curled / either; thumb out / tucked /
either); a state's degree is a logistic function of the curl, a gesture's score the product of
its fingers' degrees, the hand's gesture the best score when it reaches ``min_score``, else
OTHER. Half-bent fingers, patterns no gesture has (three fingers, a pinch) and a thumb pointing
sideways give OTHER. :class:`GestureStep` adds per-track hysteresis: a track reports a new
gesture only after it was the best for ``hold_frames`` frames in a row.
"""

import dataclasses
from typing import Dict, Optional

import numpy as np

from wilor_ros.skeleton import finger_joints, FINGERS, WRIST

# hri_msgs/Gesture's constants (ROS4HRI hri_msgs 2.x), the hand ones.
OTHER = 0
CLOSED_FIST = 7
OPEN_PALM = 8
POINTING_UP = 9
THUMB_DOWN = 10
THUMB_UP = 11
VICTORY = 12
LOVE = 13
GESTURE_NAMES = {OTHER: 'OTHER', CLOSED_FIST: 'CLOSED_FIST', OPEN_PALM: 'OPEN_PALM',
                 POINTING_UP: 'POINTING_UP', THUMB_DOWN: 'THUMB_DOWN', THUMB_UP: 'THUMB_UP',
                 VICTORY: 'VICTORY', LOVE: 'LOVE'}
# hri_msgs/Gesture handedness.
INDEPENDENT, RIGHT, LEFT = 0, 1, 2

# Finger states: E extended, C curled, '-' either. Thumb: O out, T tucked, '-' either.
# Order: thumb, index, middle, ring, pinky.
PATTERNS = {
    OPEN_PALM: 'OEEEE',
    CLOSED_FIST: 'TCCCC',
    POINTING_UP: '-ECCC',
    VICTORY: '-EECC',
    LOVE: 'OECCE',
    THUMB_UP: 'OCCCC',
    THUMB_DOWN: 'OCCCC',
}
# Curl (rad, finger_curls) of a straight finger ~0.1, of a fist's ~2.4: extended below
# EXTENDED_CURL, curled above CURLED_CURL, each with a logistic edge of CURL_WIDTH; between
# them (a half-bent finger) neither.
EXTENDED_CURL = 0.5
CURLED_CURL = 1.6
CURL_WIDTH = 0.08
# Thumb curl: out (straight) below THUMB_OUT_CURL, tucked above THUMB_TUCKED_CURL (a fist's
# thumb ~1.25 rad).
THUMB_OUT_CURL = 0.55
THUMB_TUCKED_CURL = 0.85
# Cosine between the thumb (MCP -> tip) and the up axis for THUMB_UP (its negative: DOWN).
THUMB_UP_COS = 0.5
THUMB_UP_WIDTH = 0.08
CAMERA_UP = np.array([0.0, -1.0, 0.0])  # optical frame: y points down
_THUMB = finger_joints('thumb')
_MCPS = [finger_joints(finger)[0] for finger in FINGERS[1:]]
_TIPS = [finger_joints(finger)[3] for finger in FINGERS[1:]]
_INDEX_MCP, _PINKY_MCP = _MCPS[0], _MCPS[3]
# PATTERNS as rows of the degree table in classify ('-': the last row, all ones).
_STATE_ROWS = 'ECOT'
_PATTERN_ROWS = np.array([[_STATE_ROWS.find(state) for state in pattern]
                          for pattern in PATTERNS.values()])
FORGET_AFTER = 2.0  # s: a track unseen this long has ended (a tracker keeps ids far shorter)


def _logistic(value):
    return 1.0 / (1.0 + np.exp(-np.clip(value, -50.0, 50.0)))


def _cross(a, b):
    # np.cross is ~10x slower than this on small arrays (its axis handling).
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _unit(vectors):
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _angles(a, b):
    """Angles (rad) between the rows of ``a`` and ``b``."""
    return np.arccos(np.clip(np.sum(_unit(a) * _unit(b), axis=-1), -1.0, 1.0))


def palm_normal(keypoints):
    """Return a unit normal of the palm (wrist, index MCP, little finger MCP); sign arbitrary."""
    wrist = keypoints[WRIST]
    return _unit(_cross(keypoints[_INDEX_MCP] - wrist, keypoints[_PINKY_MCP] - wrist))


def finger_curls(keypoints):
    """
    Return the curl (rad) of each finger, thumb first: how far its tip folds back.

    Fingers: the angle between the palm's direction at the finger (wrist -> MCP) and the chord
    from the MCP to the tip, sideways spreading removed (0 for a straight finger, ~2.5 for a
    fist's). Thumb: the angle between its metacarpal (CMC -> MCP) and its MCP -> tip chord.
    Chords over whole fingers, not bone-by-bone angles: a few millimetres of noise on a 2 cm
    bone moves its angle by 0.2 rad, on an 8 cm chord by 0.04.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    palm = keypoints[_MCPS] - keypoints[WRIST]
    chords = keypoints[_TIPS] - keypoints[_MCPS]
    # Sideways spreading (abduction) is in the palm plane: take it out, keep the flexion.
    lateral = _unit(_cross(palm, palm_normal(keypoints)))
    chords = chords - np.sum(chords * lateral, axis=1, keepdims=True) * lateral
    thumb = _angles(keypoints[_THUMB[1]] - keypoints[_THUMB[0]],
                    keypoints[_THUMB[3]] - keypoints[_THUMB[1]])
    return np.concatenate([[thumb], _angles(palm, chords)])


@dataclasses.dataclass(frozen=True)
class GestureReading:
    """One hand's classification: the gesture (hri_msgs constant) and its score (0..1)."""

    gesture: int
    confidence: float
    scores: Dict[int, float] = dataclasses.field(default_factory=dict, compare=False)


def classify(keypoints, up=CAMERA_UP, min_score=0.5):
    """
    Return the :class:`GestureReading` of one hand's 21 joints (camera frame, any side).

    ``confidence`` is the winning gesture's score, or for OTHER one minus the best score.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    curls = finger_curls(keypoints)
    # Degree of each state (rows: _STATE_ROWS order) for each finger, thumb first.
    degrees = np.ones((len(_STATE_ROWS) + 1, 5))
    degrees[0] = _logistic((EXTENDED_CURL - curls) / CURL_WIDTH)
    degrees[1] = _logistic((curls - CURLED_CURL) / CURL_WIDTH)
    degrees[2] = _logistic((THUMB_OUT_CURL - curls) / CURL_WIDTH)
    degrees[3] = _logistic((curls - THUMB_TUCKED_CURL) / CURL_WIDTH)
    products = degrees[_PATTERN_ROWS, np.arange(5)].prod(axis=1)
    thumb = keypoints[_THUMB[3]] - keypoints[_THUMB[1]]
    up = np.asarray(up, dtype=np.float64)
    cos_up = float(np.dot(thumb, up) / max(np.linalg.norm(thumb) * np.linalg.norm(up), 1e-12))
    scores = dict(zip(PATTERNS, products.tolist()))
    scores[THUMB_UP] *= float(_logistic((cos_up - THUMB_UP_COS) / THUMB_UP_WIDTH))
    scores[THUMB_DOWN] *= float(_logistic((-cos_up - THUMB_UP_COS) / THUMB_UP_WIDTH))
    best = max(scores, key=scores.get)
    if scores[best] < min_score:
        return GestureReading(OTHER, 1.0 - scores[best], scores)
    return GestureReading(best, scores[best], scores)


@dataclasses.dataclass
class _TrackGesture:
    reported: int = OTHER
    confidence: float = 0.0
    candidate: Optional[int] = None
    count: int = 0
    last_stamp: float = 0.0


class GestureHysteresis:
    """
    Per-track debouncing of the readings.

    A track reports a gesture once it was the reading ``hold_frames`` frames in a row (OTHER
    until then), and keeps it until another one has.
    """

    def __init__(self, hold_frames=3):
        """Keep the number of frames a new reading must last."""
        self.hold_frames = int(hold_frames)
        self._tracks: Dict[str, _TrackGesture] = {}

    def update(self, track_id, reading, stamp):
        """Return the (gesture, confidence) ``track_id`` reports after ``reading``."""
        if not track_id or self.hold_frames <= 1:
            return reading.gesture, reading.confidence
        state = self._tracks.setdefault(track_id, _TrackGesture())
        state.last_stamp = stamp
        if reading.gesture == state.reported:
            state.candidate, state.count = None, 0
            state.confidence = reading.confidence
            return state.reported, state.confidence
        if reading.gesture == state.candidate:
            state.count += 1
        else:
            state.candidate, state.count = reading.gesture, 1
        if state.count >= self.hold_frames:
            state.reported, state.confidence = reading.gesture, reading.confidence
            state.candidate, state.count = None, 0
        return state.reported, state.confidence

    def forget_before(self, stamp):
        """Drop the state of tracks last seen before ``stamp`` (ended tracks)."""
        for track_id in [t for t, state in self._tracks.items() if state.last_stamp < stamp]:
            del self._tracks[track_id]


@dataclasses.dataclass(frozen=True)
class HandGesture:
    """A hand's reported gesture: hri_msgs constant, confidence, handedness (RIGHT / LEFT)."""

    gesture: int
    confidence: float
    handedness: int

    @property
    def name(self):
        """Return the constant's name, e.g. ``'THUMB_UP'``."""
        return GESTURE_NAMES[self.gesture]


class GestureStep:
    """
    After-tracking step: a gesture per hand.

    ``outputs['gestures']`` = one :class:`HandGesture` per hand (same order as ``hands``),
    debounced per camera and track.
    """

    name = 'gestures'

    def __init__(self, hold_frames=3, min_score=0.5, up=CAMERA_UP):
        """Keep the settings; one hysteresis per camera."""
        self.hold_frames = hold_frames
        self.min_score = min_score
        self.up = np.asarray(up, dtype=np.float64)
        self._hysteresis: Dict[str, GestureHysteresis] = {}

    def __call__(self, results):
        """Classify every hand of every camera of the batch."""
        for result in results:
            hysteresis = self._hysteresis.setdefault(result.camera,
                                                     GestureHysteresis(self.hold_frames))
            gestures = []
            for hand in result.hands:
                reading = classify(hand.keypoints_3d, self.up, self.min_score)
                gesture, confidence = hysteresis.update(hand.track_id, reading, result.stamp)
                gestures.append(HandGesture(gesture, float(confidence),
                                            RIGHT if hand.is_right else LEFT))
            # A missed frame keeps a track's state (the tracker keeps its id); ended ones go.
            hysteresis.forget_before(result.stamp - FORGET_AFTER)
            result.outputs[self.name] = gestures
