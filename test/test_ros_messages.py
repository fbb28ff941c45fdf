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

"""wilor_msgs over real DDS between processes (Fast DDS, loopback only)."""

import sys

import pytest
from ros_harness import needs_large_best_effort, PROGRAMS, ros_env, RosProcess

pytestmark = pytest.mark.ros

sys.path.insert(0, str(PROGRAMS))


def as_plain(value):
    """Nested plain Python (dicts, lists, numbers) of a message, for exact comparison."""
    if hasattr(value, 'get_fields_and_field_types'):
        return {name: as_plain(getattr(value, name))
                for name in value.get_fields_and_field_types()}
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [as_plain(item) for item in value]
    return value


def test_hand_array_arrives_with_every_field_equal(tmp_path):
    from rclpy.serialization import deserialize_message, serialize_message
    from sample_messages import make_hand_array
    from wilor_msgs.msg import HandArray

    env = ros_env()
    out = tmp_path / 'received.bin'
    listener = RosProcess([PROGRAMS / 'hands_listener.py', out], env)
    publisher = None
    try:
        listener.wait_for_line(lambda line: line == 'READY', timeout=30)
        publisher = RosProcess([PROGRAMS / 'hands_publisher.py'], env)
        listener.wait_for_line(lambda line: line == 'RECEIVED', timeout=40)
        assert listener.finish() == 0, listener.output
    finally:
        listener.stop()
        if publisher is not None:
            publisher.stop()
    received = deserialize_message(out.read_bytes(), HandArray)
    expected = make_hand_array()
    # Expected values pass through one CDR round trip locally so float64 -> float32 casts
    # of the sample match; the comparison then covers every field, arrays included.
    expected = deserialize_message(serialize_message(expected), HandArray)
    assert as_plain(received) == as_plain(expected)
    assert len(received.hands) == 2
    assert received.hands[0].id == 'track-1' and len(received.hands[1].vertices) == 778 * 3
    assert received.header.frame_id == 'camera_color_optical_frame'


@pytest.mark.parametrize('rate,seconds', [(30.0, 3.0)])
@pytest.mark.parametrize('qos', [
    pytest.param('sensor_data', marks=needs_large_best_effort), 'reliable'])
def test_vga_images_arrive_at_sensor_data_qos(rate, seconds, qos):
    # Reliable as well: what the README recommends for large frames, and what still carries
    # them where large best-effort samples get lost (Jazzy, see ros_harness).
    env = ros_env()
    extra = ['--reliable'] if qos == 'reliable' else []
    listener = RosProcess([PROGRAMS / 'image_listener.py', *extra], env)
    publisher = None
    try:
        listener.wait_for_line(lambda line: line == 'READY', timeout=30)
        publisher = RosProcess([PROGRAMS / 'image_publisher.py', '--rate', rate,
                                '--seconds', seconds, *extra], env)
        published = publisher.wait_for_json('published', timeout=40)['published']
        result = listener.wait_for_json('received', timeout=40)
    finally:
        listener.stop()
        if publisher is not None:
            publisher.stop()
    assert published == int(rate * seconds)
    assert result['sizes'] == [640 * 480 * 3]
    assert result['received'] >= 0.95 * published, result


def test_keypoints_2d_is_the_projection_of_keypoints_3d_with_the_published_camera(
        fixture_pipeline, fixture_image):
    # Hand.msg promises keypoints_2d = (fx X / Z + cx, fy Y / Z + cy) of keypoints_3d with the
    # published focal_length (fx, fy) and principal_point; with fx != fy and an off-centre
    # principal point a single focal length would be tens of pixels off.
    import numpy as np
    from std_msgs.msg import Header

    from wilor_ros.ros.messages import hands_to_msg

    k = np.array([[600.0, 0.0, 250.0], [0.0, 500.0, 300.0], [0.0, 0.0, 1.0]])
    msg = hands_to_msg(fixture_pipeline(fixture_image, camera_matrix=k),
                       Header(frame_id='cam_optical'))
    assert len(msg.hands) >= 1
    for hand in msg.hands:
        fx, fy = hand.focal_length
        cx, cy = hand.principal_point
        assert (fx, fy, cx, cy) == (600.0, 500.0, 250.0, 300.0)
        points = np.array([[p.x, p.y, p.z] for p in hand.keypoints_3d])
        reprojected = np.stack([fx * points[:, 0] / points[:, 2] + cx,
                                fy * points[:, 1] / points[:, 2] + cy], axis=1)
        published = np.asarray(hand.keypoints_2d, dtype=np.float64).reshape(21, 2)
        assert np.abs(reprojected - published).max() < 1e-2
        # What a single focal length (fx for both axes) would give instead:
        wrong = fx * points[:, 1] / points[:, 2] + cy
        assert np.abs(wrong - published[:, 1]).max() > 1.0
