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

"""MANO: the chumpy-free pickle reader, the smplx-style conversion, and the skinning layer."""

import pickle

from bad_weights import malicious_marker, malicious_pickle
from fixture_paths import FIXTURES, MANO_PKL, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.models.checkpoint_io import load_checkpoint
from wilor_ros.models.mano import (MANO_BUFFERS, mano_buffers_from_pickle,
                                   mano_buffers_from_state_dict, MANOLayer)
from wilor_ros.models.mano_pickle import load_mano_pickle, MANOPickleError


@pytest.fixture(scope='module')
def checkpoint_state():
    return load_checkpoint(RECONSTRUCTOR, kind='WiLoR checkpoint')['state_dict']


@pytest.fixture(scope='module')
def crops():
    return dict(np.load(FIXTURES / 'wilor' / 'crops.npz'))


def test_pickle_reader_decodes_the_official_layout():
    model = load_mano_pickle(MANO_PKL)
    assert list(model) == ['hands_components', 'f', 'J_regressor', 'kintree_table', 'J',
                           'bs_style', 'hands_coeffs', 'weights', 'posedirs', 'hands_mean',
                           'v_template', 'shapedirs', 'bs_type']
    assert model['bs_style'] == 'lbs' and model['bs_type'] == 'lrotmin'
    assert model['f'].shape == (1538, 3) and model['f'].dtype == np.uint32
    assert model['posedirs'].shape == (778, 3, 135) and model['posedirs'].dtype == np.float64
    assert model['shapedirs'].shape == (778, 3, 10)
    assert model['kintree_table'][0, 0] == 4294967295
    regressor = model['J_regressor']
    assert regressor.shape == (16, 778)
    assert np.all(np.count_nonzero(regressor, axis=1) == 12)
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(model['weights'].sum(axis=1), 1.0, atol=1e-12)
    # The file stores J = J_regressor @ v_template: a check of the sparse and dense decoding.
    np.testing.assert_allclose(regressor @ model['v_template'], model['J'], atol=1e-12)


def test_pickle_buffers_equal_the_checkpoint_buffers(checkpoint_state):
    from_pickle = mano_buffers_from_pickle(MANO_PKL)
    from_checkpoint = mano_buffers_from_state_dict(checkpoint_state)
    assert set(from_pickle) == set(MANO_BUFFERS)
    for name in MANO_BUFFERS:
        assert from_pickle[name].dtype == from_checkpoint[name].dtype, name
        assert torch.equal(from_pickle[name], from_checkpoint[name]), name


def test_layer_reproduces_official_meshes(checkpoint_state, crops):
    layer = MANOLayer(**mano_buffers_from_state_dict(checkpoint_state))
    vertices, joints = layer(torch.from_numpy(crops['global_orient']),
                             torch.from_numpy(crops['hand_pose']),
                             torch.from_numpy(crops['betas']))
    assert vertices.shape == (3, 778, 3) and joints.shape == (3, 21, 3)
    torch.testing.assert_close(vertices, torch.from_numpy(crops['pred_vertices']),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(joints, torch.from_numpy(crops['pred_keypoints_3d']),
                               atol=1e-6, rtol=0)
    pickled = MANOLayer(**mano_buffers_from_pickle(MANO_PKL))
    other_vertices, other_joints = pickled(torch.from_numpy(crops['global_orient']),
                                           torch.from_numpy(crops['hand_pose']),
                                           torch.from_numpy(crops['betas']))
    torch.testing.assert_close(other_vertices, vertices, atol=1e-7, rtol=0)
    torch.testing.assert_close(other_joints, joints, atol=1e-7, rtol=0)


def test_rest_pose_is_the_template_and_joints_follow_openpose_order():
    model = load_mano_pickle(MANO_PKL)
    layer = MANOLayer(**mano_buffers_from_pickle(MANO_PKL))
    eye = torch.eye(3).expand(1, 16, 3, 3)
    vertices, joints = layer(eye[:, :1], eye[:, 1:], torch.zeros(1, 10))
    template = torch.from_numpy(model['v_template']).float()
    torch.testing.assert_close(vertices[0], template, atol=1e-7, rtol=0)
    skeleton = torch.from_numpy(model['J']).float()
    tips = template[[744, 320, 443, 554, 671]]
    # OpenPose: wrist, then thumb (MANO 13-15), index (1-3), middle (4-6), ring (10-12),
    # pinky (7-9), each finger closed by its tip vertex.
    expected = torch.cat([skeleton[[0, 13, 14, 15]], tips[:1], skeleton[1:4], tips[1:2],
                          skeleton[4:7], tips[2:3], skeleton[10:13], tips[3:4],
                          skeleton[7:10], tips[4:5]])
    torch.testing.assert_close(joints[0], expected, atol=1e-6, rtol=0)


def test_layer_stays_float32_under_autocast(checkpoint_state, crops):
    layer = MANOLayer(**mano_buffers_from_state_dict(checkpoint_state))
    inputs = [torch.from_numpy(crops[key]) for key in ('global_orient', 'hand_pose', 'betas')]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vertices, joints = layer(*[x.bfloat16() for x in inputs[:2]], inputs[2])
    assert vertices.dtype == torch.float32 and joints.dtype == torch.float32
    reference, _ = layer(*inputs)
    # Only the bf16 rounding of the inputs remains.
    torch.testing.assert_close(vertices, reference, atol=2e-3, rtol=0)


def test_foreign_global_is_rejected_before_anything_runs(tmp_path):
    marker = malicious_marker(tmp_path)
    path = tmp_path / 'MANO_RIGHT.pkl'
    path.write_bytes(malicious_pickle(tmp_path, key='v_template'))
    with pytest.raises(MANOPickleError) as error:
        load_mano_pickle(path)
    assert str(path) in str(error.value) and 'system' in str(error.value)
    assert not marker.exists()
    with pytest.raises(MANOPickleError):
        mano_buffers_from_pickle(path)
    assert not marker.exists()


def test_other_numpy_pickles_are_refused(tmp_path):
    # A modern numpy pickle names numpy._core / other reconstructors: not the MANO format.
    path = tmp_path / 'array.pkl'
    path.write_bytes(pickle.dumps({'v_template': np.zeros((3, 3))}, protocol=2))
    with pytest.raises(MANOPickleError, match='not one of'):
        load_mano_pickle(path)


def test_unreadable_files_raise_clear_errors(tmp_path):
    missing = tmp_path / 'nowhere' / 'MANO_RIGHT.pkl'
    with pytest.raises(MANOPickleError, match='does not exist'):
        load_mano_pickle(missing)
    text = tmp_path / 'notes.txt'
    text.write_text('this is not a pickle\n')
    with pytest.raises(MANOPickleError, match='not a readable MANO pickle') as error:
        load_mano_pickle(text)
    assert str(text) in str(error.value)
    truncated = tmp_path / 'truncated.pkl'
    truncated.write_bytes(MANO_PKL.read_bytes()[:100_000])
    with pytest.raises(MANOPickleError, match=str(truncated)):
        load_mano_pickle(truncated)
    incomplete = tmp_path / 'incomplete.pkl'
    incomplete.write_bytes(pickle.dumps({'bs_style': 'lbs'}, protocol=2))
    with pytest.raises(MANOPickleError, match='lacks v_template'):
        mano_buffers_from_pickle(incomplete)
