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
The debug overlay (wilor_ros/debug_overlay.py), drawn from real pipeline output; no ROS needed.

The hands come from the WiLoR pipeline with the tiny fixture weights on the detector fixture
image (random weights: not meaningful hands, but real meshes, skeletons and boxes).
"""

import dataclasses

import numpy as np
import pytest

from wilor_ros.debug_overlay import draw_hands, hand_camera, render_mesh, rgba_to_bgr


def projected_vertices(hand, camera_matrix):
    vertices = np.asarray(hand.vertices, dtype=np.float64)
    pixels = (camera_matrix @ (vertices / vertices[:, 2:]).T).T
    return pixels[:, :2]


def test_overlay_draws_the_mesh_where_the_vertices_project(fixture_hands, fixture_pipeline,
                                                           fixture_image, fixture_camera_matrix):
    image, camera_matrix = fixture_image, fixture_camera_matrix
    hand = max(fixture_hands, key=lambda h: np.ptp(projected_vertices(h, camera_matrix)[:, 0]))
    canvas = np.zeros_like(image)
    camera = (camera_matrix[0, 0], camera_matrix[1, 1], camera_matrix[0, 2],
              camera_matrix[1, 2])
    assert render_mesh(canvas, hand.vertices, fixture_pipeline.faces, camera, (0, 255, 0)) > 0
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
    render_mesh(shifted, hand.vertices, fixture_pipeline.faces,
                (camera[0], camera[1], camera[2] + 40, camera[3]), (0, 255, 0))
    np.testing.assert_array_equal(np.nonzero(shifted[..., 1])[1].min(), cols.min() + 40)


def test_draw_hands_returns_a_new_image_with_hands_drawn(fixture_hands, fixture_pipeline,
                                                         fixture_image, fixture_camera_matrix):
    hands, image, camera_matrix = fixture_hands, fixture_image, fixture_camera_matrix
    original = image.copy()
    picture = draw_hands(image, hands, faces=fixture_pipeline.faces, camera_matrix=camera_matrix)
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


def test_draw_hands_survives_non_finite_values_and_refuses_non_bgr(fixture_hands,
                                                                   fixture_pipeline,
                                                                   fixture_image):
    hands, image = fixture_hands, fixture_image
    broken = dataclasses.replace(
        hands[0], vertices=np.full_like(hands[0].vertices, np.nan),
        keypoints_2d=np.full_like(hands[0].keypoints_2d, np.inf),
        keypoints_3d=np.full_like(hands[0].keypoints_3d, np.nan),
        box=np.array([np.nan, 0, 1e12, 5], np.float32))
    assert draw_hands(image, [broken], faces=fixture_pipeline.faces).shape == image.shape
    with pytest.raises(ValueError, match='BGR uint8'):
        draw_hands(image[..., 0], hands)


def test_colours_and_camera_of_a_hand(fixture_hands):
    # RGBA in 0..1 -> OpenCV BGR in 0..255, out-of-range components clipped, alpha ignored.
    assert rgba_to_bgr((1.0, 0.5, 0.0, 0.3)) == (0, 128, 255)
    assert rgba_to_bgr((2.0, -1.0, 0.2)) == (51, 0, 255)
    # A given camera matrix wins over the camera the hand was placed with.
    k = np.array([[500.0, 0.0, 300.0], [0.0, 510.0, 200.0], [0.0, 0.0, 1.0]])
    hand = fixture_hands[0]
    assert hand_camera(hand, k) == (500.0, 510.0, 300.0, 200.0)
    assert hand_camera(hand) == (*hand.focal_length, *hand.principal_point)
