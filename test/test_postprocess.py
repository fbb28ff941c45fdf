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

"""Camera model and post-processing against the official demo numbers (no networks needed)."""

import json

from fixture_paths import FIXTURES
import numpy as np
import pytest
from reference_math import cam_crop_to_full, mano_axis_angles
import torch

from wilor_ros.camera import (cam_crop_to_camera, CameraIntrinsics, intrinsics_from_matrix,
                              project_points, wilor_heuristic_intrinsics)
from wilor_ros.postprocess import build_hand_results, flip_crop_camera, mirror_left_hands

OUTPUT_KEYS = ('pred_cam', 'global_orient', 'hand_pose', 'betas', 'pred_keypoints_3d',
               'pred_keypoints_2d', 'pred_vertices')


@pytest.fixture(scope='module')
def crops():
    return np.load(FIXTURES / 'wilor' / 'crops.npz')


@pytest.fixture(scope='module')
def post():
    return np.load(FIXTURES / 'wilor' / 'postprocess.npz')


@pytest.fixture(scope='module')
def e2e():
    return np.load(FIXTURES / 'e2e.npz')


def stack(hands, name):
    return np.stack([getattr(hand, name) for hand in hands])


def outputs_from(crops):
    return {key: torch.from_numpy(crops[key]) for key in OUTPUT_KEYS}


def hands_from_crops(crops, post, intrinsics, compute_vertices=True):
    right = post['is_right'] > 0.5
    boxes = np.arange(12, dtype=np.float32).reshape(3, 4)
    return build_hand_results(outputs_from(crops), post['box_center'], post['box_size'], boxes,
                              np.array([0.9, 0.8, 0.7]), right, intrinsics, compute_vertices)


def test_official_cam_crop_to_full_is_reproduced(post):
    full = cam_crop_to_full(torch.from_numpy(post['pred_cam_flipped']),
                            torch.from_numpy(post['box_center']),
                            torch.from_numpy(post['box_size']),
                            torch.from_numpy(post['img_size']),
                            torch.tensor(post['scaled_focal_length']))
    np.testing.assert_array_equal(full.numpy(), post['pred_cam_t_full'])
    flipped = flip_crop_camera(post['pred_cam'], post['is_right'] > 0.5)
    np.testing.assert_array_equal(flipped.astype(np.float32), post['pred_cam_flipped'])


def test_heuristic_camera_matches_official_demo(crops, post):
    width, height = post['img_size'][0]
    intrinsics = wilor_heuristic_intrinsics(width, height)
    assert intrinsics.fx == intrinsics.fy == float(post['scaled_focal_length'])
    np.testing.assert_array_equal(intrinsics.principal_point, post['principal_point'][0])
    hands = hands_from_crops(crops, post, intrinsics)
    assert [h.is_right for h in hands] == [True, False, True]
    cam_t = post['pred_cam_t_full']
    assert np.abs(stack(hands, 'cam_t') - cam_t).max() < 1e-5
    vertices = post['pred_vertices_full'] + cam_t[:, None]
    joints = post['pred_keypoints_3d_full'] + cam_t[:, None]
    assert np.abs(stack(hands, 'vertices') - vertices).max() < 1e-5
    assert np.abs(stack(hands, 'keypoints_3d') - joints).max() < 1e-5
    assert np.abs(stack(hands, 'keypoints_2d') - post['keypoints_2d_full']).max() < 1e-3
    for hand in hands:
        assert list(hand.focal_length) == [12500.0, 12500.0] and not hand.focal_from_camera_info
        assert hand.keypoints_2d.dtype == np.float32 and hand.vertices.shape == (778, 3)
    assert all(h.vertices is None for h in hands_from_crops(crops, post, intrinsics, False))


def test_mirroring_of_left_hands(crops, post):
    right = post['is_right'] > 0.5
    points = crops['pred_vertices']
    np.testing.assert_array_equal(mirror_left_hands(points, right), post['pred_vertices_full'])
    np.testing.assert_array_equal(points, crops['pred_vertices'])  # input untouched
    as_tensor = mirror_left_hands(torch.from_numpy(points), torch.from_numpy(right))
    np.testing.assert_array_equal(as_tensor.numpy(), post['pred_vertices_full'])


@pytest.mark.parametrize('suffix', ['', '_2'])
def test_axis_angles_match_scipy_and_mirror_left_hands(e2e, suffix):
    right = e2e['is_right' + suffix] > 0.5
    orient, pose = mano_axis_angles(torch.from_numpy(e2e['global_orient' + suffix]),
                                    torch.from_numpy(e2e['hand_pose' + suffix]),
                                    torch.from_numpy(right))
    assert np.abs(orient.numpy() - e2e['global_orient_aa' + suffix]).max() < 1e-5
    assert np.abs(pose.numpy() - e2e['hand_pose_aa' + suffix]).max() < 1e-5


def test_real_camera_matches_official_formula_when_fx_equals_fy(e2e):
    # README section 10: with fx = fy, cam_t_K is cam_crop_to_full with img_size = 2 (cx, cy).
    intrinsics = intrinsics_from_matrix(e2e['K'])
    assert intrinsics.from_camera_info and intrinsics.fx == intrinsics.fy == 600.0
    right = e2e['is_right'] > 0.5
    cam = flip_crop_camera(e2e['pred_cam'].astype(np.float64), right)
    cam_t = cam_crop_to_camera(cam, e2e['box_center'].astype(np.float64),
                               e2e['box_size'].astype(np.float64), intrinsics)
    assert np.abs(cam_t - e2e['cam_t_K']).max() < 1e-6
    official = cam_crop_to_full(torch.from_numpy(cam).float(),
                                torch.from_numpy(e2e['box_center']),
                                torch.from_numpy(e2e['box_size']),
                                torch.tensor([[2 * intrinsics.cx, 2 * intrinsics.cy]] * len(cam)),
                                600.0)
    assert np.abs(cam_t - official.numpy()).max() < 1e-5
    joints_2d = project_points(e2e['keypoints_3d_cam_K'].astype(np.float64), intrinsics)
    assert np.abs(joints_2d - e2e['keypoints_2d_K']).max() < 1e-3


def test_non_square_pixels_keep_the_root_on_the_network_pixel(e2e):
    # fx != fy: the MANO origin must project (through fy) where the network placed it,
    # box_center + (b s / 2) (tx, ty), and the depth follows fx.
    right = e2e['is_right'] > 0.5
    cam = flip_crop_camera(e2e['pred_cam'].astype(np.float64), right)
    center, size = e2e['box_center'].astype(np.float64), e2e['box_size'].astype(np.float64)
    network_root = center + (size * cam[:, 0] / 2)[:, None] * cam[:, 1:]
    for fx, fy in [(600.0, 600.0), (600.0, 450.0), (500.0, 900.0)]:
        intrinsics = CameraIntrinsics(fx, fy, 330.0, 230.0, True)
        cam_t = cam_crop_to_camera(cam, center, size, intrinsics)
        np.testing.assert_allclose(project_points(cam_t, intrinsics), network_root, atol=1e-9)
        np.testing.assert_allclose(cam_t[:, 2], 2 * fx / (size * cam[:, 0]), rtol=1e-12)
    base = cam_crop_to_camera(cam, center, size, CameraIntrinsics(600, 600, 330, 230, True))
    double = cam_crop_to_camera(cam, center, size, CameraIntrinsics(1200, 1200, 330, 230, True))
    np.testing.assert_allclose(double, base * [1, 1, 2], rtol=1e-12)


def test_network_keypoints_follow_the_crop_camera(crops, post):
    # pred_keypoints_2d is the crop camera's perspective (focal 5000 px per 256 px crop);
    # mapped to the image: box_center + b * uv, x mirrored for left hands.
    hands = hands_from_crops(crops, post, wilor_heuristic_intrinsics(640, 480))
    right = post['is_right'] > 0.5
    cam = crops['pred_cam'].astype(np.float64)
    joints = crops['pred_keypoints_3d'].astype(np.float64)
    tz = 2 * 5000.0 / (256 * cam[:, 0])
    depth = joints[..., 2:] + tz[:, None, None]
    uv = 5000.0 / 256 * (joints[..., :2] + cam[:, None, 1:]) / depth
    uv[..., 0] *= np.where(right, 1, -1)[:, None]
    expected = post['box_center'][:, None] + post['box_size'][:, None, None] * uv
    assert np.abs(stack(hands, 'keypoints_2d_network') - expected).max() < 1e-3
    # Close to, but not equal to, the heuristic projection (different perspective strength).
    gap = np.abs(stack(hands, 'keypoints_2d_network') - post['keypoints_2d_full']).max()
    assert 1e-3 < gap < 0.02 * post['box_size'].min()


def test_hand_result_to_dict_is_json_ready(crops, post):
    hand = hands_from_crops(crops, post, intrinsics_from_matrix(np.diag([500.0, 500.0, 1])))[1]
    hand.track_id = '7'
    data = json.loads(json.dumps(hand.to_dict()))
    # The fields of wilor_msgs/Hand (test_hand_schema.py checks them against the message).
    assert data['side'] == 0 and data['id'] == '7'
    assert data['focal_source'] == 1 and data['focal_length'] == [500.0, 500.0]
    assert len(data['keypoints_3d']) == 21 and set(data['keypoints_3d'][0]) == {'x', 'y', 'z'}
    assert len(data['keypoints_2d']) == 42 and len(data['hand_pose']) == 45
    assert len(data['vertices']) == 778 * 3
    np.testing.assert_array_equal(np.array([data['cam_t'][k] for k in 'xyz'], np.float32),
                                  hand.cam_t)


def test_hands_that_overflow_float32_are_dropped(crops, post):
    # An absurd but finite focal length (now refused by intrinsics_from_values) made cam_t
    # overflow float32 in the node: such hands must not leave post-processing.
    absurd = CameraIntrinsics(1e300, 1e300, 320.0, 240.0, True)
    assert hands_from_crops(crops, post, absurd) == []
    assert len(hands_from_crops(crops, post, CameraIntrinsics(1e30, 1e30, 320, 240, True))) == 3


@pytest.mark.parametrize('key,index,value', [
    ('pred_cam', (1, 0), 0.0),          # scale 0: the hand at infinite depth
    ('pred_cam', (1, 1), np.nan),
    ('betas', (1, 3), np.inf),
    ('pred_vertices', (1, 100, 2), np.nan),
    ('pred_keypoints_2d', (1, 5, 0), -np.inf),
])
def test_degenerate_network_outputs_drop_only_that_hand(crops, post, key, index, value):
    intrinsics = wilor_heuristic_intrinsics(640, 480)
    good = hands_from_crops(crops, post, intrinsics)
    damaged = {name: crops[name].copy() for name in OUTPUT_KEYS}
    damaged[key][index] = value
    hands = hands_from_crops(damaged, post, intrinsics)
    assert [hand.score for hand in hands] == [good[0].score, good[2].score]
    for hand, expected in zip(hands, (good[0], good[2])):
        np.testing.assert_array_equal(hand.vertices, expected.vertices)
    # Without vertices a NaN vertex is not part of any result, so the hand stays.
    expected_count = 3 if key == 'pred_vertices' else 2
    assert len(hands_from_crops(damaged, post, intrinsics, compute_vertices=False)) == \
        expected_count
