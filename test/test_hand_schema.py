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
One schema for a hand: the JSON of wilor-infer has exactly the fields of ``wilor_msgs/Hand``.

The reference is the generated message class itself (``Hand.get_fields_and_field_types``), so
a field added to Hand.msg without its HandResult counterpart, or the other way round, fails
here. Values are compared with the message that :func:`hand_to_msg` builds, converted to plain
data the way ROS JSON tools convert messages.
"""

import dataclasses
import json

from fixture_paths import DETECT_NPZ
import numpy as np
import pytest

from wilor_ros.hand import HandResult
from wilor_ros.hand_schema import EXTRAS, hand_record, RENAMED, STEP_FIELDS


@pytest.fixture(scope='module')
def hands(fixture_pipeline):
    pipe = fixture_pipeline
    image = np.load(DETECT_NPZ)['image']
    camera = np.array([[600.0, 0.0, 320.0], [0.0, 610.0, 240.0], [0.0, 0.0, 1.0]])
    found = pipe(image, camera_matrix=camera) + pipe(image)   # CameraInfo and heuristic
    assert {hand.is_right for hand in found} == {False, True}
    found[0].track_id = '7'
    return found


def message_to_plain(msg):
    """Convert a ROS message to dicts, lists and numbers (as ROS JSON tools do)."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return {name: message_to_plain(getattr(msg, name))
                for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple, np.ndarray)) or hasattr(msg, 'typecode'):
        return [message_to_plain(item) for item in list(msg)]
    if isinstance(msg, (np.floating, float)):
        return float(msg)
    if isinstance(msg, (np.integer, int)) and not isinstance(msg, bool):
        return int(msg)
    return msg


@pytest.mark.ros
def test_json_keys_are_the_message_fields_plus_named_extras(hands):
    from wilor_msgs.msg import Hand

    message_fields = set(Hand.get_fields_and_field_types())
    for hand in hands:
        record = json.loads(json.dumps(hand.to_dict()))
        assert set(record) - EXTRAS == message_fields
        assert EXTRAS <= set(record)
    # Every HandResult field reaches the JSON: under a message name, renamed, or as an extra.
    result_fields = {field.name for field in dataclasses.fields(HandResult)}
    assert ({RENAMED.get(name, (name,))[0] for name in result_fields} | STEP_FIELDS
            == message_fields | EXTRAS)


@pytest.mark.ros
def test_json_values_are_the_message_values(hands):
    from wilor_ros.ros.messages import hand_to_msg

    for hand in hands:
        record = json.loads(json.dumps(hand.to_dict()))
        expected = message_to_plain(hand_to_msg(hand))
        assert {name: record[name] for name in expected} == expected
        assert len(record['vertices']) == 778 * 3


@pytest.mark.ros
def test_flat_shapes_and_enums(hands):
    from wilor_msgs.msg import Hand

    for hand in hands:
        record = hand.to_dict()
        assert record['side'] == (Hand.RIGHT if hand.is_right else Hand.LEFT)
        assert record['focal_source'] == (Hand.FOCAL_CAMERA_INFO if hand.focal_from_camera_info
                                          else Hand.FOCAL_HEURISTIC)
        assert record['id'] == hand.track_id and record['bbox'] == hand.box.tolist()
        assert len(record['keypoints_2d']) == len(record['keypoints_2d_network']) == 42
        assert record['keypoints_2d'][:2] == hand.keypoints_2d[0].tolist()
        assert record['keypoints_3d'][20] == dict(zip('xyz', hand.keypoints_3d[20].tolist()))
        assert record['cam_t'] == dict(zip('xyz', hand.cam_t.tolist()))
        assert record['vertices'][:3] == hand.vertices[0].tolist()
    untracked = dataclasses.replace(hands[1], vertices=None, track_id='')
    record = untracked.to_dict()
    assert record['vertices'] == [] and record['id'] == ''


@pytest.mark.ros
def test_a_gesture_reaches_the_json_and_the_message(hands):
    from wilor_ros.gestures import HandGesture, LOVE, RIGHT
    from wilor_ros.ros.messages import hands_to_msg

    gesture = HandGesture(LOVE, 0.75, RIGHT)
    record = hands[0].to_dict()
    assert record['gesture'] == 0 and record['gesture_confidence'] == 0.0
    record = json.loads(json.dumps(hand_record(hands[0], gesture=gesture)))
    assert record['gesture'] == LOVE and record['gesture_confidence'] == 0.75
    from std_msgs.msg import Header

    msg = hands_to_msg(hands[:2], Header(), gestures=[gesture, None])
    assert msg.hands[0].gesture == msg.hands[0].GESTURE_LOVE == LOVE
    assert msg.hands[0].gesture_confidence == pytest.approx(0.75)
    assert msg.hands[1].gesture == 0
