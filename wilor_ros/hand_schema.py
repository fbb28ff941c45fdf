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
The one schema of a hand outside ROS: the field names and flat shapes of ``wilor_msgs/Hand``.

:func:`hand_fields` maps a :class:`wilor_ros.hand.HandResult` onto the fields of Hand.msg;
:func:`hand_record` turns that into JSON (what ``wilor-infer`` writes) and
:func:`wilor_ros.ros.messages.hand_to_msg` into the message, so the two cannot differ. The JSON
of a hand is what a ROS JSON conversion of its message gives (``ros2 topic echo --json``,
``rosidl_runtime_py.message_to_ordereddict``):

* ``side`` uint8 (``LEFT`` 0, ``RIGHT`` 1), ``id`` string (track id, '' when untracked),
  ``score``, ``bbox`` [x_min, y_min, x_max, y_max];
* ``keypoints_3d``: 21 objects {x, y, z} (geometry_msgs/Point), ``cam_t`` one {x, y, z}
  (geometry_msgs/Vector3);
* flat float lists: ``keypoints_2d`` (42: u0, v0, u1, ...), ``global_orient`` (3),
  ``hand_pose`` (45), ``betas`` (10), ``focal_length`` (2), ``principal_point`` (2),
  ``vertices`` (778 x 3 flattened; [] when not computed);
* ``focal_source`` uint8 (``FOCAL_HEURISTIC`` 0, ``FOCAL_CAMERA_INFO`` 1);
* ``keypoint_confidence`` (21 floats, zeros when no detector ran), ``translation_source`` uint8
  (``TRANSLATION_HEURISTIC`` 0, ``TRANSLATION_CAMERA_INFO`` 1, ``TRANSLATION_DEPTH`` 2),
  ``depth_scale``, ``depth_inliers``, ``depth_inlier_ratio``, ``depth_residual``;
* ``gesture`` uint8 (hri_msgs/Gesture's hand constants, 0 = OTHER) and ``gesture_confidence``:
  given by the gesture step (:mod:`wilor_ros.gestures`), not by HandResult;
* extras, fields of HandResult that Hand.msg does not carry, under their own names:
  ``keypoints_2d_network`` (42, flat like keypoints_2d).

Fields are matched by name: a field added to both HandResult and Hand.msg flows through with
no change here (arrays flattened to float lists, numbers and strings as they are). Only the
fields whose name or encoding differs are listed below; a test compares the result with the
generated message class, so a mismatch fails there.
"""

import dataclasses

import numpy as np

from wilor_ros.skeleton import NUM_JOINTS

LEFT, RIGHT = 0, 1                       # Hand.LEFT, Hand.RIGHT
FOCAL_HEURISTIC, FOCAL_CAMERA_INFO = 0, 1  # Hand.FOCAL_HEURISTIC, Hand.FOCAL_CAMERA_INFO
# HandResult.translation_source -> Hand.TRANSLATION_HEURISTIC / _CAMERA_INFO / _DEPTH.
TRANSLATION_SOURCES = {'heuristic': 0, 'camera_info': 1, 'depth': 2}

# HandResult field -> (Hand.msg field, conversion of the value).
RENAMED = {
    'is_right': ('side', lambda value: RIGHT if value else LEFT),
    'track_id': ('id', str),
    'box': ('bbox', None),
    'focal_from_camera_info': ('focal_source',
                               lambda value: FOCAL_CAMERA_INFO if value else FOCAL_HEURISTIC),
    'translation_source': ('translation_source', TRANSLATION_SOURCES.__getitem__),
    # Given boxes (no detector run) have no keypoint confidences: zeros, as the message says.
    'keypoint_confidence': ('keypoint_confidence', lambda value: np.zeros(
        NUM_JOINTS, np.float32) if value is None else np.asarray(
            value, dtype=np.float32).reshape(-1)),
}
# Hand.msg fields of geometry types: (N, 3) arrays of geometry_msgs/Point, (3,) Vector3.
POINT_LISTS = frozenset({'keypoints_3d'})
VECTORS = frozenset({'cam_t'})
# HandResult fields Hand.msg does not carry; they are added to the JSON under these names.
EXTRAS = frozenset({'keypoints_2d_network'})
# Hand.msg fields that come from an after-tracking step, not from HandResult (hand_fields'
# arguments).
STEP_FIELDS = frozenset({'gesture', 'gesture_confidence'})


def _plain(value):
    """Return numpy arrays as flat float32 arrays and numpy scalars as Python numbers."""
    if isinstance(value, np.ndarray):
        return np.asarray(value, dtype=np.float32).reshape(-1)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def hand_fields(hand, include_vertices=True, gesture=None):
    """
    Return {Hand.msg field (and extra): value} of a HandResult, in the message's layout.

    Arrays are flat float32 numpy arrays, except POINT_LISTS ((N, 3) float64) and VECTORS
    ((3,) float64); ``vertices`` is an empty array when absent or not wanted. ``gesture``: the
    hand's :class:`wilor_ros.gestures.HandGesture` (an after-tracking step's output, not a
    HandResult field), or None: ``gesture`` 0 (OTHER), ``gesture_confidence`` 0.
    """
    fields = {'gesture': 0 if gesture is None else int(gesture.gesture),
              'gesture_confidence': 0.0 if gesture is None else float(gesture.confidence)}
    for field in dataclasses.fields(hand):
        value = getattr(hand, field.name)
        name, convert = RENAMED.get(field.name, (field.name, None))
        if name in POINT_LISTS:
            value = np.asarray(value, dtype=np.float64).reshape(-1, 3)
        elif name in VECTORS:
            value = np.asarray(value, dtype=np.float64).reshape(3)
        elif name == 'vertices' and (value is None or not include_vertices):
            value = np.zeros(0, np.float32)
        elif convert is not None:
            value = convert(value)
        else:
            value = _plain(value)
        fields[name] = value
    return fields


def _xyz(row):
    x, y, z = (float(v) for v in row)
    return {'x': x, 'y': y, 'z': z}


def hand_record(hand, include_vertices=True, gesture=None):
    """Return the JSON-ready dict of a HandResult (see the module documentation)."""
    record = {}
    for name, value in hand_fields(hand, include_vertices, gesture).items():
        if name in POINT_LISTS:
            value = [_xyz(row) for row in value]
        elif name in VECTORS:
            value = _xyz(value)
        elif isinstance(value, np.ndarray):
            value = [float(v) for v in value.tolist()]
        record[name] = value
    return record
