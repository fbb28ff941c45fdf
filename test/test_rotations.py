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

"""Rotation conversions against scipy, and the left-hand mirroring rule."""

import numpy as np
from reference_math import axis_angle_to_rotmat
from scipy.spatial.transform import Rotation
import torch
from wilor_ros.rotations import mirror_axis_angle, rot6d_to_rotmat, rotmat_to_axis_angle


def _random_axis_angles(count, seed=0):
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(count, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0, np.pi, (count, 1))
    values = axes * angles
    values[0] = 0.0
    values[1] = [np.pi - 1e-6, 0.0, 0.0]
    values[2] = [1e-9, -2e-9, 0.0]
    return torch.from_numpy(values)


def test_axis_angle_round_trip_matches_scipy():
    axis_angle = _random_axis_angles(500)
    matrices = axis_angle_to_rotmat(axis_angle)
    assert np.abs(matrices.numpy() - Rotation.from_rotvec(axis_angle.numpy()).as_matrix()).max() \
        < 1e-12
    back = rotmat_to_axis_angle(matrices)
    assert np.abs(back.numpy() - axis_angle.numpy()).max() < 1e-6
    single = rotmat_to_axis_angle(matrices.float())
    assert (single.double() - back).abs().max() < 1e-5


def test_rot6d_columns_are_gram_schmidt_of_the_two_vectors():
    rng = np.random.default_rng(1)
    six = torch.from_numpy(rng.normal(size=(50, 6)))
    matrices = rot6d_to_rotmat(six)
    a1 = six[:, :3] / six[:, :3].norm(dim=1, keepdim=True)
    assert torch.allclose(matrices[:, :, 0], a1)
    eye = torch.eye(3, dtype=six.dtype).expand(50, 3, 3)
    assert torch.allclose(matrices.transpose(1, 2) @ matrices, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(matrices), torch.ones(50, dtype=six.dtype))
    identity = rot6d_to_rotmat(torch.tensor([1.0, 0, 0, 0, 1, 0]))
    assert torch.equal(identity, torch.eye(3))


def test_mirroring_is_m_r_m():
    axis_angle = _random_axis_angles(100, seed=2)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    expected = mirror @ axis_angle_to_rotmat(axis_angle) @ mirror
    assert torch.allclose(axis_angle_to_rotmat(mirror_axis_angle(axis_angle)), expected,
                          atol=1e-12)
