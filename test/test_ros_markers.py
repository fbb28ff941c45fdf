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
RViz markers and the hand messages, built from real pipeline output.

The hands come from the WiLoR pipeline with the tiny fixture weights on the detector fixture
image (random weights: not meaningful hands, but real meshes, skeletons and boxes).
"""

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.ros


@pytest.fixture()
def header():
    from std_msgs.msg import Header

    header = Header(frame_id='camera_color_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 1700000000, 250000000
    return header


def marker_points(marker):
    return np.array([[p.x, p.y, p.z] for p in marker.points]).reshape(-1, 3)


def signed_volume(triangles):
    """Signed volume enclosed by (F, 3, 3) triangles: its sign says which way they are wound."""
    return np.einsum('ij,ij->i', triangles[:, 0],
                     np.cross(triangles[:, 1], triangles[:, 2])).sum() / 6.0


# --------------------------------------------------------------------------------------------
# markers


def test_marker_array_obeys_the_rviz_rules(fixture_hands, fixture_pipeline, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    style = MarkerStyle(lifetime=0.25)
    array = hand_markers(fixture_hands, header, fixture_pipeline.faces, style)
    first, rest = array.markers[0], array.markers[1:]
    assert first.action == Marker.DELETEALL and first.ns == style.namespace
    assert len(rest) == 3 * len(fixture_hands)
    assert len({(m.ns, m.id) for m in rest}) == len(rest)
    kinds = [m.type for m in rest]
    assert kinds.count(Marker.TRIANGLE_LIST) == len(fixture_hands)
    assert kinds.count(Marker.LINE_LIST) == len(fixture_hands)
    assert kinds.count(Marker.SPHERE_LIST) == len(fixture_hands)
    for marker in array.markers:
        assert marker.header.frame_id == 'camera_color_optical_frame'
        assert (marker.header.stamp.sec, marker.header.stamp.nanosec) == (1700000000, 250000000)
    for marker in rest:
        points = marker_points(marker)
        assert marker.action == Marker.ADD and marker.ns == style.namespace
        assert np.isfinite(points).all()
        assert marker.pose.orientation.w == 1.0
        assert (marker.lifetime.sec, marker.lifetime.nanosec) == (0, 250000000)
        assert len(marker.colors) == 0 and marker.color.a > 0
        if marker.type == Marker.TRIANGLE_LIST:
            assert len(points) == 3 * len(fixture_pipeline.faces)
            assert (marker.scale.x, marker.scale.y, marker.scale.z) == (1.0, 1.0, 1.0)
            assert marker.color.a == pytest.approx(style.mesh_alpha)
        elif marker.type == Marker.LINE_LIST:
            assert len(points) == 40 and len(points) % 2 == 0
            assert marker.scale.x == pytest.approx(style.line_width)
        else:
            assert len(points) == 21 and marker.scale.x == pytest.approx(style.joint_diameter)


def test_default_markers_stay_until_the_next_frame_replaces_them(fixture_hands, fixture_pipeline,
                                                                 header):
    """Lifetime 0 (forever): a frame slower than any finite lifetime must not blink the mesh."""
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import clear_markers, hand_markers, MarkerStyle
    from wilor_ros.ros.node_parameters import SPECS

    assert MarkerStyle().lifetime == 0.0 == SPECS['markers.lifetime'].default
    array = hand_markers(fixture_hands, header, fixture_pipeline.faces)
    # Replacement, not expiry, removes the previous frame's hands: DELETEALL comes first.
    assert array.markers[0].action == Marker.DELETEALL
    for marker in array.markers[1:]:
        assert (marker.lifetime.sec, marker.lifetime.nanosec) == (0, 0)
    cleared = clear_markers(header)
    assert [(m.action, m.ns) for m in cleared.markers] == [(Marker.DELETEALL,
                                                            MarkerStyle().namespace)]
    assert cleared.markers[0].header.frame_id == header.frame_id


def test_mesh_points_are_the_vertices_and_both_sides_wind_alike(fixture_hands, fixture_pipeline,
                                                                header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    style = MarkerStyle()
    meshes = [m for m in hand_markers(fixture_hands, header, fixture_pipeline.faces, style).markers
              if m.type == Marker.TRIANGLE_LIST]
    faces = fixture_pipeline.faces
    volumes = {}
    for hand, mesh in zip(fixture_hands, meshes):
        triangles = marker_points(mesh).reshape(-1, 3, 3)
        wound = faces if hand.is_right else faces[:, [0, 2, 1]]
        np.testing.assert_allclose(triangles, hand.vertices[wound], atol=1e-6)
        color = style.right_color if hand.is_right else style.left_color
        assert (mesh.color.r, mesh.color.g, mesh.color.b) == pytest.approx(color[:3])
        volumes.setdefault(hand.is_right, []).append(
            signed_volume(triangles - np.asarray(hand.cam_t, dtype=np.float64)))
    # A left hand is a mirrored right hand: only its reversed winding gives its triangles
    # the same orientation (same volume sign) as the right hands', so RViz lights both alike.
    signs = {side: set(np.sign(values)) for side, values in volumes.items()}
    assert len(signs[True]) == 1 and signs[True] == signs[False]


def test_skeleton_follows_the_openpose_bones(fixture_hands, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers
    from wilor_ros.skeleton import BONES

    array = hand_markers(fixture_hands[:1], header)
    lines = next(m for m in array.markers if m.type == Marker.LINE_LIST)
    spheres = next(m for m in array.markers if m.type == Marker.SPHERE_LIST)
    joints = np.asarray(fixture_hands[0].keypoints_3d, dtype=np.float64)
    np.testing.assert_allclose(marker_points(lines), joints[np.array(BONES).reshape(-1)])
    np.testing.assert_allclose(marker_points(spheres), joints)
    # No faces given: no mesh.
    assert not any(m.type == Marker.TRIANGLE_LIST for m in array.markers)


def test_non_finite_parts_are_left_out(fixture_hands, fixture_pipeline, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    vertices = fixture_hands[0].vertices.copy()
    vertices[5, 1] = np.nan
    joints = fixture_hands[1].keypoints_3d.copy()
    joints[3, 2] = np.inf
    broken = [dataclasses.replace(fixture_hands[0], vertices=vertices),
              dataclasses.replace(fixture_hands[1], keypoints_3d=joints)]
    markers = hand_markers(broken, header, fixture_pipeline.faces).markers
    kinds = [(m.id, m.type) for m in markers[1:]]
    assert kinds == [(1, Marker.LINE_LIST), (2, Marker.SPHERE_LIST), (3, Marker.TRIANGLE_LIST)]
    for marker in markers:
        assert np.isfinite(marker_points(marker)).all()
    # Mesh opacity 0 switches the mesh off; an empty frame is just the DELETEALL.
    no_mesh = hand_markers(fixture_hands, header, fixture_pipeline.faces,
                           MarkerStyle(mesh_alpha=0.0))
    assert not any(m.type == Marker.TRIANGLE_LIST for m in no_mesh.markers)
    empty = hand_markers([], header, fixture_pipeline.faces).markers
    assert [m.action for m in empty] == [Marker.DELETEALL]


def test_marker_array_serializes(fixture_hands, fixture_pipeline, header):
    from rclpy.serialization import deserialize_message, serialize_message
    from visualization_msgs.msg import MarkerArray
    from wilor_ros.ros.markers import hand_markers

    array = hand_markers(fixture_hands, header, fixture_pipeline.faces)
    back = deserialize_message(serialize_message(array), MarkerArray)
    assert [len(m.points) for m in back.markers] == [len(m.points) for m in array.markers]
    np.testing.assert_allclose(marker_points(back.markers[1]), marker_points(array.markers[1]))


# --------------------------------------------------------------------------------------------
# hand messages


def test_hand_array_carries_every_field(fixture_hands, header):
    from rclpy.serialization import deserialize_message, serialize_message
    from wilor_msgs.msg import Hand, HandArray
    from wilor_ros.ros.messages import hands_to_msg

    tracked = [dataclasses.replace(hand, track_id=str(7 + i))
               for i, hand in enumerate(fixture_hands)]
    msg = deserialize_message(serialize_message(hands_to_msg(tracked, header)), HandArray)
    assert msg.header == header
    assert len(msg.hands) == len(fixture_hands)
    for hand, out in zip(tracked, msg.hands):
        assert out.side == (Hand.RIGHT if hand.is_right else Hand.LEFT)
        assert out.id == hand.track_id
        assert out.score == pytest.approx(hand.score)
        np.testing.assert_array_equal(out.bbox, hand.box)
        np.testing.assert_allclose([[p.x, p.y, p.z] for p in out.keypoints_3d],
                                   hand.keypoints_3d, rtol=0, atol=0)
        np.testing.assert_array_equal(out.keypoints_2d, hand.keypoints_2d.reshape(-1))
        np.testing.assert_array_equal(out.global_orient, hand.global_orient)
        np.testing.assert_array_equal(out.hand_pose, hand.hand_pose)
        np.testing.assert_array_equal(out.betas, hand.betas)
        np.testing.assert_array_equal([out.cam_t.x, out.cam_t.y, out.cam_t.z], hand.cam_t)
        assert out.focal_length == pytest.approx(hand.focal_length)
        np.testing.assert_array_equal(out.principal_point, hand.principal_point)
        assert out.focal_source == Hand.FOCAL_CAMERA_INFO
        np.testing.assert_array_equal(np.asarray(out.vertices), hand.vertices.reshape(-1))
    light = hands_to_msg(fixture_hands, header, include_vertices=False)
    assert all(len(hand.vertices) == 0 for hand in light.hands)
    heuristic = hands_to_msg([dataclasses.replace(fixture_hands[0], focal_from_camera_info=False)],
                             header)
    assert heuristic.hands[0].focal_source == Hand.FOCAL_HEURISTIC


def test_mesh_faces_message(fixture_pipeline):
    from wilor_ros.ros.messages import mesh_faces_msg

    msg = mesh_faces_msg(fixture_pipeline.faces)
    assert msg.num_vertices == 778
    np.testing.assert_array_equal(np.asarray(msg.triangles), fixture_pipeline.faces.reshape(-1))
    with pytest.raises(ValueError, match='shape'):
        mesh_faces_msg(np.zeros((4, 2), int))
