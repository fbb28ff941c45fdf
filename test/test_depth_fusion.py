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

"""RGB-D fusion: depth conversion, z-buffer visibility, the scale fit on scenes with truth."""

import dataclasses
import sys

from fixture_paths import MANO_PKL, REPO
import numpy as np
import pytest

from wilor_ros.camera import intrinsics_from_values, project_points
from wilor_ros.depth_fusion import (apply_depth_scale, depth_to_metres, fit_depth_scale,
                                    fuse_hands, rasterize_depth, visible_vertices)

sys.path.insert(0, str(REPO / 'bench'))
from rgbd_scenes import INTRINSICS, load_mano, make_scene  # noqa: E402, I100


@pytest.fixture(scope='module')
def mano():
    return load_mano(MANO_PKL)


def test_depth_encodings_and_holes():
    millimetres = np.array([[0, 1000], [1500, 65535]], np.uint16)
    metres = depth_to_metres(millimetres)
    assert metres.dtype == np.float32 and np.isnan(metres[0, 0])
    np.testing.assert_allclose(metres[[0, 1, 1], [1, 0, 1]], [1.0, 1.5, 65.535], rtol=1e-6)
    floats = np.array([[0.0, np.nan], [np.inf, 0.75]], np.float32)
    converted = depth_to_metres(floats[..., None], image_shape=(2, 2, 3))
    assert np.isnan(converted[:1]).all() and np.isnan(converted[1, 0])
    assert converted[1, 1] == np.float32(0.75)
    assert np.isnan(depth_to_metres(np.array([[-1.0]], np.float32))).all()
    with pytest.raises(ValueError, match='aligned'):
        depth_to_metres(millimetres, image_shape=(480, 640, 3))
    with pytest.raises(ValueError, match='uint16'):
        depth_to_metres(np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match='single-channel'):
        depth_to_metres(np.zeros((2, 2, 3), np.uint16))


def test_zbuffer_hides_the_back_of_two_stacked_squares():
    k = intrinsics_from_values(500.0, 500.0, 50.0, 50.0)
    square = np.array([[-0.02, -0.02, 0], [0.02, -0.02, 0], [0.02, 0.02, 0], [-0.02, 0.02, 0]])
    front, back = square + [0, 0, 0.5], square * [2.5, 2.5, 1] + [0, 0, 0.6]
    # A back vertex inside the front square's shadow, and one that peeks out beside it.
    hidden, peeking = np.array([[0.0, 0.0, 0.6]]), np.array([[0.045, 0.0, 0.6]])
    vertices = np.concatenate([front, back, hidden, peeking])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    zbuffer = rasterize_depth(vertices, faces, k, (100, 100), max_steps=100)
    assert zbuffer[50, 50] == pytest.approx(0.5)
    assert zbuffer[50, 85] == pytest.approx(0.6) and np.isinf(zbuffer[50, 99])
    visible = visible_vertices(vertices, faces, k, (100, 100))
    assert visible.tolist() == [True] * 4 + [True] * 4 + [False, True]


def test_fit_recovers_the_true_depth_on_synthetic_rgbd_scenes(mano):
    rng = np.random.default_rng(7)
    near_errors, translation_errors = [], []
    for _ in range(25):
        scene = make_scene(mano, rng)
        fit = fit_depth_scale(scene.mono_vertices, scene.faces, INTRINSICS,
                              depth_to_metres(scene.depth), scene.mono_joints,
                              scene.keypoint_confidence)
        assert fit.accepted, fit.reason
        assert fit.scale == pytest.approx(scene.scale, rel=0.01)
        assert 0.3 < fit.inlier_ratio <= 1.0 and fit.residual < 0.01
        translation_errors.append(np.linalg.norm(fit.scale * scene.mono_cam_t
                                                 - scene.true_cam_t))
        if scene.true_cam_t[2] <= 1.0:
            near_errors.append(np.linalg.norm(fit.scale * scene.mono_joints
                                              - scene.true_joints, axis=1))
    mono_error = np.linalg.norm(scene.mono_cam_t - scene.true_cam_t)
    assert np.median(np.concatenate(near_errors)) <= 0.005
    assert np.median(translation_errors) <= 0.005 < mono_error


def test_scaling_keeps_every_projection_and_reports_the_fit(mano):
    scene = make_scene(mano, np.random.default_rng(3))
    hand = _hand(scene)
    fused, fits = fuse_hands([hand], depth_to_metres(scene.depth), INTRINSICS, scene.faces)
    fused = fused[0]
    assert fused.translation_source == 'depth' and fits[0].accepted
    assert fused.depth_scale == pytest.approx(scene.scale, rel=0.01)
    assert fused.depth_inliers == fits[0].inliers > 0
    np.testing.assert_allclose(project_points(fused.keypoints_3d[None], INTRINSICS)[0],
                               project_points(hand.keypoints_3d[None], INTRINSICS)[0],
                               atol=1e-3)
    # vertices = scale * MANO + cam_t keeps holding.
    np.testing.assert_allclose(fused.vertices - fused.cam_t,
                               fused.depth_scale * (hand.vertices - hand.cam_t), atol=1e-5)


def test_too_few_depth_samples_keep_the_monocular_hand(mano):
    scene = make_scene(mano, np.random.default_rng(4))
    hand = _hand(scene)
    holes = np.zeros_like(scene.depth)
    holes[::7, ::7] = scene.depth[::7, ::7]   # ~2 % of the pixels hold data
    (kept,), (fit,) = fuse_hands([hand], depth_to_metres(holes), INTRINSICS, scene.faces)
    assert not fit.accepted and 'valid depth samples' in fit.reason
    assert kept.translation_source == 'camera_info' and kept.depth_scale == 1.0
    np.testing.assert_array_equal(kept.cam_t, hand.cam_t)
    # A depth image of only background: no consensus with a plausible scale either.
    wall = np.full_like(scene.depth, 5000)
    (kept,), (fit,) = fuse_hands([hand], depth_to_metres(wall), INTRINSICS, scene.faces)
    assert not fit.accepted and kept.translation_source == 'camera_info'


def test_rejected_fit_reports_quality_without_moving_the_hand(mano):
    scene = make_scene(mano, np.random.default_rng(5))
    fit = dataclasses.replace(fit_depth_scale(scene.mono_vertices, scene.faces, INTRINSICS,
                                              depth_to_metres(scene.depth)), accepted=False)
    hand = apply_depth_scale(_hand(scene), fit)
    assert hand.depth_inliers == fit.inliers and hand.depth_scale == 1.0
    np.testing.assert_array_equal(hand.vertices, scene.mono_vertices.astype(np.float32))


def test_pipeline_fuses_depth_and_carries_keypoint_confidence(fixture_pipeline, fixture_image):
    pipe, image = fixture_pipeline, fixture_image
    height, width = image.shape[:2]
    k = np.array([[600.0, 0, width / 2], [0, 600.0, height / 2], [0, 0, 1]])
    mono = pipe(image, camera_matrix=k)
    assert mono and all(h.translation_source == 'camera_info' for h in mono)
    for hand in mono:
        assert hand.keypoint_confidence.shape == (21,)
        assert ((hand.keypoint_confidence >= 0) & (hand.keypoint_confidence <= 1)).all()
    hand = mono[0]
    assert hand.cam_t[2] > 0.1, 'the fixture hand must lie in front of the camera'
    # Depth rendered from the first hand made 1.25x larger and farther: only that hand fits.
    truth = rasterize_depth(hand.vertices * 1.25, pipe.faces, hand_intrinsics(hand),
                            image.shape)
    depth = np.where(np.isfinite(truth), truth, 0.0).astype(np.float32)
    fused = pipe(image, camera_matrix=k, depth=depth, compute_vertices=False)
    assert fused[0].translation_source == 'depth' and fused[0].vertices is None
    # (the splatted rendering is exact to about a pixel's depth slope: 0.2 %)
    assert fused[0].depth_scale == pytest.approx(1.25, rel=5e-3)
    np.testing.assert_allclose(fused[0].cam_t, fused[0].depth_scale * hand.cam_t, rtol=1e-5)
    np.testing.assert_allclose(fused[0].keypoints_2d, hand.keypoints_2d, atol=0.05)
    np.testing.assert_array_equal(fused[0].keypoint_confidence, hand.keypoint_confidence)
    given = pipe.reconstruct(image, [hand.box], [hand.is_right], camera_matrix=k,
                             depth=(depth * 1000).astype(np.uint16))
    assert given[0].translation_source == 'depth' and given[0].keypoint_confidence is None
    with pytest.raises(ValueError, match='camera matrix'):
        pipe(image, depth=depth)
    with pytest.raises(ValueError, match='aligned'):
        pipe(image, camera_matrix=k, depth=depth[:-1])


def test_sides_callable_decides_the_crop_mirroring(fixture_pipeline, fixture_image):
    pipe, image = fixture_pipeline, fixture_image
    seen = []

    def all_left(boxes, scores, is_right):
        seen.append(len(boxes))
        return np.zeros(len(boxes), bool)

    hands = pipe(image, sides=all_left)
    assert seen == [len(hands)] and not any(h.is_right for h in hands)
    plain = pipe(image)
    right = [n for n, h in enumerate(plain) if h.is_right][0]
    mirrored = pipe.reconstruct(image, [plain[right].box], [False])[0]
    np.testing.assert_allclose(hands[right].keypoints_3d, mirrored.keypoints_3d, atol=1e-5)


def hand_intrinsics(hand):
    return intrinsics_from_values(*hand.focal_length, *hand.principal_point)


def _hand(scene):
    from wilor_ros.hand import HandResult
    uv = project_points(scene.mono_joints[None], INTRINSICS)[0]
    return HandResult(
        is_right=True, score=0.9, box=np.zeros(4, np.float32),
        keypoints_3d=scene.mono_joints.astype(np.float32), keypoints_2d=uv.astype(np.float32),
        keypoints_2d_network=uv.astype(np.float32), global_orient=np.zeros(3, np.float32),
        hand_pose=np.zeros(45, np.float32), betas=np.zeros(10, np.float32),
        cam_t=scene.mono_cam_t.astype(np.float32), focal_length=INTRINSICS.focal_length,
        principal_point=INTRINSICS.principal_point, focal_from_camera_info=True,
        vertices=scene.mono_vertices.astype(np.float32),
        keypoint_confidence=scene.keypoint_confidence)
