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
The camera model (wilor_ros/camera.py) against values worked out by hand.

Parity with the official demo's translation on the fixtures is in test_postprocess.py; here each
public function meets numbers that can be checked on paper: a K and its four values, the WiLoR
focal heuristic for common frame sizes, every camera spec format, the pinhole projection, and
the crop camera -> camera translation of one hand.
"""

import math

import numpy as np
import pytest
import torch

from wilor_ros.camera import (cam_crop_to_camera, CameraError, CameraIntrinsics,
                              CROP_FOCAL_LENGTH, CROP_SIZE, field_of_view_guess,
                              intrinsics_from_camera_info_k, intrinsics_from_matrix,
                              intrinsics_from_values, MAX_FOCAL_LENGTH, MAX_PRINCIPAL_POINT,
                              MIN_FOCAL_LENGTH, parse_camera_spec, project_points,
                              wilor_focal_heuristic, wilor_heuristic_intrinsics)

# A RealSense-like colour camera with non-square pixels and an off-centre principal point.
K = np.array([[615.0, 0.0, 322.5], [0.0, 612.0, 241.25], [0.0, 0.0, 1.0]])
REAL = CameraIntrinsics(fx=615.0, fy=612.0, cx=322.5, cy=241.25, from_camera_info=True)


def test_intrinsics_from_a_matrix_its_nine_values_or_itself():
    assert intrinsics_from_matrix(K) == REAL
    assert intrinsics_from_matrix(K.reshape(-1).tolist()) == REAL
    assert intrinsics_from_matrix(REAL) is REAL
    # The skew term is ignored (zero for every ROS camera driver).
    skewed = K.copy()
    skewed[0, 1] = 3.0
    assert intrinsics_from_matrix(skewed) == REAL
    assert intrinsics_from_matrix(K).from_camera_info


def test_intrinsics_properties_give_back_the_matrix():
    np.testing.assert_array_equal(REAL.matrix, K)
    assert REAL.focal_length.dtype == REAL.principal_point.dtype == np.float32
    np.testing.assert_array_equal(REAL.focal_length, [615.0, 612.0])
    np.testing.assert_array_equal(REAL.principal_point, [322.5, 241.25])


def test_bad_camera_matrices_are_rejected():
    with pytest.raises(ValueError, match='3x3'):
        intrinsics_from_matrix([1.0, 2.0])
    with pytest.raises(ValueError, match='focal lengths must lie'):
        intrinsics_from_matrix(np.diag([0.0, 500.0, 1.0]))


def test_one_validity_rule_with_the_values_in_the_message():
    # The limits themselves are valid; numbers given as text are numbers.
    assert intrinsics_from_values(MIN_FOCAL_LENGTH, MAX_FOCAL_LENGTH, -MAX_PRINCIPAL_POINT,
                                  MAX_PRINCIPAL_POINT).fx == MIN_FOCAL_LENGTH
    assert intrinsics_from_values('600', 600, '320.5', 240) == CameraIntrinsics(
        600.0, 600.0, 320.5, 240.0, True)
    assert not intrinsics_from_values(600, 600, 320, 240, from_camera_info=False) \
        .from_camera_info
    for values, words in [((0.5, 600, 320, 240), 'focal lengths must lie'),
                          ((600, 2e6, 320, 240), 'focal lengths must lie'),
                          ((600, 600, 2e6, 240), 'principal point beyond'),
                          ((600, 600, 320, -2e6), 'principal point beyond'),
                          ((math.nan, 600, 320, 240), 'must be finite'),
                          ((600, math.inf, 320, 240), 'must be finite'),
                          (('six hundred', 600, 320, 240), 'must be numbers'),
                          ((None, 600, 320, 240), 'must be numbers')]:
        with pytest.raises(CameraError, match=words) as error:
            intrinsics_from_values(*values)
        assert isinstance(error.value, ValueError)
    with pytest.raises(CameraError, match='fx=0.5, fy=600'):
        intrinsics_from_values(0.5, 600, 320, 240)


def test_camera_info_k_of_zeros_means_uncalibrated():
    assert intrinsics_from_camera_info_k([0.0] * 9) is None
    assert intrinsics_from_camera_info_k(tuple(K.reshape(-1))) == REAL
    with pytest.raises(CameraError):
        intrinsics_from_camera_info_k([0.0] * 8 + [1.0])


def test_wilor_heuristic_is_5000_over_256_times_the_longer_side():
    assert CROP_FOCAL_LENGTH / CROP_SIZE == 19.53125
    assert wilor_focal_heuristic(640, 480) == 12500.0
    assert wilor_focal_heuristic(480, 640) == 12500.0
    assert wilor_focal_heuristic(1920, 1080) == 37500.0
    # float32 like the demo: 19.53125 * 1001 = 19550.78125 is exact in float32 too.
    assert wilor_focal_heuristic(1001, 7) == 19550.78125
    # Another crop camera (a checkpoint's own config) scales the same way.
    assert wilor_focal_heuristic(640, 480, crop_focal_length=2560.0, crop_size=256) == 6400.0
    heuristic = wilor_heuristic_intrinsics(640, 480)
    assert heuristic == CameraIntrinsics(12500.0, 12500.0, 320.0, 240.0, False)


def test_field_of_view_guess_is_a_53_degree_webcam_centred_on_pixel_centres():
    guess = field_of_view_guess(640, 480)
    assert guess == CameraIntrinsics(640.0, 640.0, 319.5, 239.5, False)
    horizontal = 2 * math.degrees(math.atan(640 / 2 / guess.fx))
    assert horizontal == pytest.approx(53.13, abs=0.01)
    assert field_of_view_guess(480, 640).fx == 640.0


def test_camera_spec_from_the_command_line():
    assert parse_camera_spec('615,612,322.5,241.25') == REAL
    assert parse_camera_spec(' 615 , 612 , 322.5 , 241.25 ') == REAL
    for text in ('615,612,322.5', 'fx=615', '615,612,322.5,241.25,1'):
        with pytest.raises(CameraError, match='expected fx,fy,cx,cy'):
            parse_camera_spec(text)
    with pytest.raises(CameraError, match='focal lengths must lie'):
        parse_camera_spec('0,0,320,240')


@pytest.mark.parametrize('content', [
    # camera_calibration's ost.yaml
    'image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n  cols: 3\n'
    '  data: [615.0, 0.0, 322.5, 0.0, 612.0, 241.25, 0.0, 0.0, 1.0]\n',
    # a sensor_msgs/CameraInfo dump (ros2 topic echo --once), lower and upper case
    'height: 480\nwidth: 640\nk: [615.0, 0.0, 322.5, 0.0, 612.0, 241.25, 0.0, 0.0, 1.0]\n',
    'K: [615.0, 0.0, 322.5, 0.0, 612.0, 241.25, 0.0, 0.0, 1.0]\n',
    'fx: 615\nfy: 612\ncx: 322.5\ncy: 241.25\n',
], ids=['camera_calibration', 'camera_info_k', 'camera_info_K', 'plain'])
def test_camera_spec_from_a_yaml_file(tmp_path, content):
    path = tmp_path / 'camera.yaml'
    path.write_text(content)
    assert parse_camera_spec(str(path)) == REAL


def test_unusable_camera_files_name_the_file(tmp_path):
    missing = tmp_path / 'missing.yaml'
    with pytest.raises(CameraError, match='cannot read camera file .*missing.yaml'):
        parse_camera_spec(str(missing))
    for name, content, words in [('list.yaml', '- 1\n- 2\n', 'holds no YAML mapping'),
                                 ('short.yaml', 'k: [1, 2, 3]\n', 'expected camera_matrix'),
                                 ('other.yaml', 'focal: 600\n', 'expected camera_matrix'),
                                 ('zero.yml', 'k: [0, 0, 0, 0, 0, 0, 0, 0, 1]\n',
                                  'focal lengths must lie'),
                                 ('broken.yaml', 'k: [1, 2\n', 'cannot read camera file')]:
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(CameraError, match=words) as error:
            parse_camera_spec(str(path))
        assert str(path) in str(error.value)


def test_projection_is_the_pinhole_model_for_numpy_and_torch():
    points = np.array([[0.1, -0.05, 2.0], [0.0, 0.0, 1.0]])
    expected = np.array([[615.0 * 0.05 + 322.5, 612.0 * -0.025 + 241.25], [322.5, 241.25]])
    np.testing.assert_allclose(project_points(points, REAL), expected, rtol=1e-15)
    as_tensor = project_points(torch.from_numpy(points), REAL)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.float64
    np.testing.assert_allclose(as_tensor.numpy(), expected, rtol=1e-15)
    # Leading dimensions are kept.
    assert project_points(np.ones((2, 5, 3)), REAL).shape == (2, 5, 2)


def test_crop_camera_to_camera_translation_of_one_hand():
    # A 120 px box centred at (350, 260); the network says scale 0.8, offset (0.05, -0.02).
    cam = np.array([[0.8, 0.05, -0.02]])
    center, size = np.array([[350.0, 260.0]]), np.array([120.0])
    translation = cam_crop_to_camera(cam, center, size, REAL)
    assert translation.dtype == np.float64 and translation.shape == (1, 3)
    # Depth: the crop's scale b s / 2 = 48 px per metre at the root is fx / Tz.
    assert translation[0, 2] == pytest.approx(2 * 615.0 / (120.0 * 0.8), rel=1e-15)
    # The root projects where the network put it: box centre + (b s / 2) (tx, ty).
    np.testing.assert_allclose(project_points(translation, REAL),
                               [[350.0 + 48.0 * 0.05, 260.0 + 48.0 * -0.02]], rtol=1e-13)
    # Torch in, torch out, same numbers.
    as_tensor = cam_crop_to_camera(torch.from_numpy(cam), torch.from_numpy(center),
                                   torch.from_numpy(size), REAL)
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_allclose(as_tensor.numpy(), translation, rtol=1e-15)
    # With the heuristic camera the hand lies ~20x farther but on the same pixel.
    far = cam_crop_to_camera(cam, center, size, wilor_heuristic_intrinsics(640, 480))
    assert far[0, 2] == pytest.approx(translation[0, 2] * 12500.0 / 615.0, rel=1e-12)
    np.testing.assert_allclose(project_points(far, wilor_heuristic_intrinsics(640, 480)),
                               project_points(translation, REAL), rtol=1e-12)
