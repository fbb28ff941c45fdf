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
RViz markers, the debug overlay and the hand messages, built from real pipeline output.

The hands come from the WiLoR pipeline with the tiny fixture weights on the detector fixture
image (random weights: not meaningful hands, but real meshes, skeletons and boxes).
"""

import dataclasses

from conftest import FIXTURES
import numpy as np
import pytest


@pytest.fixture(scope='module')
def pipeline():
    from wilor_ros.detector import load_detector
    from wilor_ros.pipeline import HandPipeline
    from wilor_ros.reconstructor import load_reconstructor

    return HandPipeline(load_detector(FIXTURES / 'detector' / 'detector.pt', 'cpu'),
                        load_reconstructor(FIXTURES / 'wilor' / 'checkpoint.ckpt', 'cpu'),
                        conf=0.25)


@pytest.fixture(scope='module')
def image():
    return np.load(FIXTURES / 'detector' / 'detect.npz')['image']


@pytest.fixture(scope='module')
def camera_matrix():
    return np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope='module')
def hands(pipeline, image, camera_matrix):
    found = pipeline(image, camera_matrix=camera_matrix)
    assert {hand.is_right for hand in found} == {False, True}, 'fixture needs both sides'
    return found


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


def test_marker_array_obeys_the_rviz_rules(hands, pipeline, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    style = MarkerStyle(lifetime=0.25)
    array = hand_markers(hands, header, pipeline.faces, style)
    first, rest = array.markers[0], array.markers[1:]
    assert first.action == Marker.DELETEALL and first.ns == style.namespace
    assert len(rest) == 3 * len(hands)
    assert len({(m.ns, m.id) for m in rest}) == len(rest)
    kinds = [m.type for m in rest]
    assert kinds.count(Marker.TRIANGLE_LIST) == len(hands)
    assert kinds.count(Marker.LINE_LIST) == len(hands)
    assert kinds.count(Marker.SPHERE_LIST) == len(hands)
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
            assert len(points) == 3 * len(pipeline.faces)
            assert (marker.scale.x, marker.scale.y, marker.scale.z) == (1.0, 1.0, 1.0)
            assert marker.color.a == pytest.approx(style.mesh_alpha)
        elif marker.type == Marker.LINE_LIST:
            assert len(points) == 40 and len(points) % 2 == 0
            assert marker.scale.x == pytest.approx(style.line_width)
        else:
            assert len(points) == 21 and marker.scale.x == pytest.approx(style.joint_diameter)


def test_default_markers_stay_until_the_next_frame_replaces_them(hands, pipeline, header):
    """Lifetime 0 (forever): a frame slower than any finite lifetime must not blink the mesh."""
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import clear_markers, hand_markers, MarkerStyle
    from wilor_ros.ros.node_parameters import SPECS

    assert MarkerStyle().lifetime == 0.0 == SPECS['markers.lifetime'].default
    array = hand_markers(hands, header, pipeline.faces)
    # Replacement, not expiry, removes the previous frame's hands: DELETEALL comes first.
    assert array.markers[0].action == Marker.DELETEALL
    for marker in array.markers[1:]:
        assert (marker.lifetime.sec, marker.lifetime.nanosec) == (0, 0)
    cleared = clear_markers(header)
    assert [(m.action, m.ns) for m in cleared.markers] == [(Marker.DELETEALL,
                                                            MarkerStyle().namespace)]
    assert cleared.markers[0].header.frame_id == header.frame_id


def test_mesh_points_are_the_vertices_and_both_sides_wind_alike(hands, pipeline, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    style = MarkerStyle()
    meshes = [m for m in hand_markers(hands, header, pipeline.faces, style).markers
              if m.type == Marker.TRIANGLE_LIST]
    faces = pipeline.faces
    volumes = {}
    for hand, mesh in zip(hands, meshes):
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


def test_skeleton_follows_the_openpose_bones(hands, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers
    from wilor_ros.skeleton import BONES

    array = hand_markers(hands[:1], header)
    lines = next(m for m in array.markers if m.type == Marker.LINE_LIST)
    spheres = next(m for m in array.markers if m.type == Marker.SPHERE_LIST)
    joints = np.asarray(hands[0].keypoints_3d, dtype=np.float64)
    np.testing.assert_allclose(marker_points(lines), joints[np.array(BONES).reshape(-1)])
    np.testing.assert_allclose(marker_points(spheres), joints)
    # No faces given: no mesh.
    assert not any(m.type == Marker.TRIANGLE_LIST for m in array.markers)


def test_non_finite_parts_are_left_out(hands, pipeline, header):
    from visualization_msgs.msg import Marker
    from wilor_ros.ros.markers import hand_markers, MarkerStyle

    vertices = hands[0].vertices.copy()
    vertices[5, 1] = np.nan
    joints = hands[1].keypoints_3d.copy()
    joints[3, 2] = np.inf
    broken = [dataclasses.replace(hands[0], vertices=vertices),
              dataclasses.replace(hands[1], keypoints_3d=joints)]
    markers = hand_markers(broken, header, pipeline.faces).markers
    kinds = [(m.id, m.type) for m in markers[1:]]
    assert kinds == [(1, Marker.LINE_LIST), (2, Marker.SPHERE_LIST), (3, Marker.TRIANGLE_LIST)]
    for marker in markers:
        assert np.isfinite(marker_points(marker)).all()
    # Mesh opacity 0 switches the mesh off; an empty frame is just the DELETEALL.
    no_mesh = hand_markers(hands, header, pipeline.faces, MarkerStyle(mesh_alpha=0.0))
    assert not any(m.type == Marker.TRIANGLE_LIST for m in no_mesh.markers)
    empty = hand_markers([], header, pipeline.faces).markers
    assert [m.action for m in empty] == [Marker.DELETEALL]


def test_marker_array_serializes(hands, pipeline, header):
    from rclpy.serialization import deserialize_message, serialize_message
    from visualization_msgs.msg import MarkerArray
    from wilor_ros.ros.markers import hand_markers

    array = hand_markers(hands, header, pipeline.faces)
    back = deserialize_message(serialize_message(array), MarkerArray)
    assert [len(m.points) for m in back.markers] == [len(m.points) for m in array.markers]
    np.testing.assert_allclose(marker_points(back.markers[1]), marker_points(array.markers[1]))


# --------------------------------------------------------------------------------------------
# debug overlay


def projected_vertices(hand, camera_matrix):
    vertices = np.asarray(hand.vertices, dtype=np.float64)
    pixels = (camera_matrix @ (vertices / vertices[:, 2:]).T).T
    return pixels[:, :2]


def test_overlay_draws_the_mesh_where_the_vertices_project(hands, pipeline, image,
                                                           camera_matrix):
    from wilor_ros.debug_overlay import render_mesh

    hand = max(hands, key=lambda h: np.ptp(projected_vertices(h, camera_matrix)[:, 0]))
    canvas = np.zeros_like(image)
    camera = (camera_matrix[0, 0], camera_matrix[1, 1], camera_matrix[0, 2],
              camera_matrix[1, 2])
    assert render_mesh(canvas, hand.vertices, pipeline.faces, camera, (0, 255, 0)) > 0
    rows, cols = np.nonzero(canvas[..., 1])
    pixels = projected_vertices(hand, camera_matrix)
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < image.shape[1]) & (pixels[:, 1] >= 0) & (
        pixels[:, 1] < image.shape[0])
    assert inside.all(), 'pick a fixture hand inside the image'
    # The filled area spans the projected vertices (to the pixel).
    for drawn, projected in ((cols, pixels[:, 0]), (rows, pixels[:, 1])):
        assert abs(drawn.min() - projected.min()) <= 1.5
        assert abs(drawn.max() - projected.max()) <= 1.5
    # Shading: triangles facing the camera are brighter than grazing ones, never black.
    assert canvas[..., 1][rows, cols].min() >= 0.35 * 255 - 1
    assert canvas[..., 1].max() > canvas[..., 1][rows, cols].min()
    # The camera matrix decides where it lands: moving cx moves the drawing.
    shifted = np.zeros_like(image)
    render_mesh(shifted, hand.vertices, pipeline.faces, (camera[0], camera[1],
                                                         camera[2] + 40, camera[3]), (0, 255, 0))
    np.testing.assert_array_equal(np.nonzero(shifted[..., 1])[1].min(), cols.min() + 40)


def test_draw_hands_returns_a_new_image_with_hands_drawn(hands, pipeline, image,
                                                         camera_matrix):
    from wilor_ros.debug_overlay import draw_hands

    original = image.copy()
    picture = draw_hands(image, hands, faces=pipeline.faces, camera_matrix=camera_matrix)
    np.testing.assert_array_equal(image, original)
    assert picture.shape == image.shape and picture.dtype == np.uint8
    changed = np.any(picture != image, axis=2)
    for hand in hands:
        x0, y0, x1, y1 = np.clip(np.round(hand.box).astype(int), 0, [639, 479, 639, 479])
        assert changed[y0:y1 + 1, x0:x1 + 1].any()
    # Pixels far from every box, skeleton and mesh are untouched.
    covered = np.zeros(image.shape[:2], bool)
    for hand in hands:
        for points in (projected_vertices(hand, camera_matrix), hand.keypoints_2d,
                       hand.box.reshape(2, 2)):
            lo = np.clip(np.floor(points.min(axis=0)).astype(int) - 40, 0, None)
            hi = np.ceil(points.max(axis=0)).astype(int) + 40
            covered[lo[1]:hi[1], lo[0]:hi[0]] = True
    assert covered.sum() < covered.size and not changed[~covered].any()
    # No hands: an identical copy. Skeleton without vertices or faces still draws.
    np.testing.assert_array_equal(draw_hands(image, []), image)
    bare = [dataclasses.replace(hand, vertices=None) for hand in hands]
    assert np.any(draw_hands(image, bare) != image)


def test_draw_hands_survives_non_finite_values_and_refuses_non_bgr(hands, pipeline, image):
    from wilor_ros.debug_overlay import draw_hands

    broken = dataclasses.replace(
        hands[0], vertices=np.full_like(hands[0].vertices, np.nan),
        keypoints_2d=np.full_like(hands[0].keypoints_2d, np.inf),
        keypoints_3d=np.full_like(hands[0].keypoints_3d, np.nan),
        box=np.array([np.nan, 0, 1e12, 5], np.float32))
    assert draw_hands(image, [broken], faces=pipeline.faces).shape == image.shape
    with pytest.raises(ValueError, match='BGR uint8'):
        draw_hands(image[..., 0], hands)


# --------------------------------------------------------------------------------------------
# hand messages


def test_hand_array_carries_every_field(hands, header):
    from rclpy.serialization import deserialize_message, serialize_message
    from wilor_msgs.msg import Hand, HandArray
    from wilor_ros.ros.messages import hands_to_msg

    tracked = [dataclasses.replace(hand, track_id=str(7 + i)) for i, hand in enumerate(hands)]
    msg = deserialize_message(serialize_message(hands_to_msg(tracked, header)), HandArray)
    assert msg.header == header
    assert len(msg.hands) == len(hands)
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
    light = hands_to_msg(hands, header, include_vertices=False)
    assert all(len(hand.vertices) == 0 for hand in light.hands)
    heuristic = hands_to_msg([dataclasses.replace(hands[0], focal_from_camera_info=False)],
                             header)
    assert heuristic.hands[0].focal_source == Hand.FOCAL_HEURISTIC


def test_mesh_faces_message(pipeline):
    from wilor_ros.ros.messages import mesh_faces_msg

    msg = mesh_faces_msg(pipeline.faces)
    assert msg.num_vertices == 778
    np.testing.assert_array_equal(np.asarray(msg.triangles), pipeline.faces.reshape(-1))
    with pytest.raises(ValueError, match='shape'):
        mesh_faces_msg(np.zeros((4, 2), int))
