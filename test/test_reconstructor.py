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

"""WiLoR reconstructor: official checkpoint loading, parity with the official forward pass."""

from bad_weights import malicious_marker, malicious_pickle
from fixture_paths import DETECTOR, FIXTURES, MANO_PKL, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint
from wilor_ros.models.mano import MANO_BUFFERS, mano_buffers_from_state_dict, MANOLayer
from wilor_ros.models.mano_pickle import MANOPickleError
from wilor_ros.models.refine_net import RefineNet
from wilor_ros.models.vit import WiLoRViT
from wilor_ros.reconstructor import load_reconstructor, OUTPUT_KEYS, WiLoR


# Outputs of the official forward pass; the required agreement is 1e-5 (float32 on the CPU).
OUTPUT_TOLERANCE = 1e-5
# Intermediates: the layer-normed tokens are O(1) values after a softmax reduction order that
# differs from the official explicit attention, the RefineNet features are pooled from them.
INTERMEDIATE_TOLERANCE = {
    'vit_mano_tokens': 5e-5, 'vit_img_feat': 5e-5, 'refine_vert_feats': 5e-5,
    'vit_pose6d': 1e-5, 'vit_betas': 1e-5, 'vit_cam': 1e-5, 'vit_global_orient': 1e-5,
    'vit_hand_pose': 1e-5, 'coarse_vertices': 1e-5, 'refine_delta_pose': 1e-5,
    'refine_delta_betas': 1e-5, 'refine_delta_cam': 1e-5,
}
OUTPUT_SHAPES = {
    'pred_cam': (3,), 'global_orient': (1, 3, 3), 'hand_pose': (15, 3, 3), 'betas': (10,),
    'pred_cam_t': (3,), 'pred_keypoints_3d': (21, 3), 'pred_vertices': (778, 3),
    'pred_keypoints_2d': (21, 2),
}


@pytest.fixture(scope='module')
def crops():
    return dict(np.load(FIXTURES / 'wilor' / 'crops.npz'))


@pytest.fixture(scope='module')
def detailed(fixture_reconstructor, crops):
    return fixture_reconstructor.forward_detailed(torch.from_numpy(crops['img']))


def _max_diff(actual, expected):
    return float((actual.detach().float() - torch.from_numpy(expected)).abs().max())


@pytest.mark.parametrize('key', OUTPUT_KEYS)
def test_outputs_match_official_forward(detailed, crops, key):
    assert detailed[key].shape == crops[key].shape
    assert _max_diff(detailed[key], crops[key]) <= OUTPUT_TOLERANCE


@pytest.mark.parametrize('key', sorted(INTERMEDIATE_TOLERANCE))
def test_intermediates_match_official_forward(detailed, crops, key):
    assert detailed[key].shape == crops[key].shape
    assert _max_diff(detailed[key], crops[key]) <= INTERMEDIATE_TOLERANCE[key]


def test_contract(fixture_reconstructor, crops):
    img = torch.from_numpy(crops['img'])
    out = fixture_reconstructor(img)
    assert set(out) == set(OUTPUT_KEYS)
    for key, shape in OUTPUT_SHAPES.items():
        assert out[key].shape == (3,) + shape, key
        assert out[key].dtype == torch.float32, key
    faces = fixture_reconstructor.faces
    assert isinstance(faces, np.ndarray) and faces.shape == (1538, 3)
    assert faces.dtype == np.int64 and faces.min() >= 0 and faces.max() < 778
    assert fixture_reconstructor.device == torch.device('cpu')
    assert fixture_reconstructor.dtype == torch.float32
    assert not fixture_reconstructor.training
    assert not any(p.requires_grad for p in fixture_reconstructor.parameters())
    # Each crop is reconstructed independently of the rest of the batch.
    single = fixture_reconstructor(img[1:2])
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(single[key], out[key][1:2], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='256'):
        fixture_reconstructor(img[:, :, :, 32:-32])


def test_mano_from_pickle_gives_same_outputs(crops, detailed):
    reconstructor = load_reconstructor(RECONSTRUCTOR, mano_path=MANO_PKL)
    state = load_checkpoint(RECONSTRUCTOR, kind='WiLoR checkpoint')['state_dict']
    for name in MANO_BUFFERS:
        assert torch.equal(getattr(reconstructor.mano, name), state[f'mano.{name}']), name
    out = reconstructor(torch.from_numpy(crops['img']))
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(out[key], detailed[key], atol=1e-6, rtol=0)
    assert np.array_equal(reconstructor.faces, load_reconstructor(RECONSTRUCTOR).faces)


@pytest.mark.parametrize('precision', [torch.bfloat16, torch.float16])
def test_reduced_precision_stays_close(crops, detailed, precision):
    reconstructor = load_reconstructor(RECONSTRUCTOR, dtype=precision)
    assert reconstructor.dtype == precision
    try:
        out = reconstructor(torch.from_numpy(crops['img']))
    except RuntimeError as error:  # depends on the CPU build
        pytest.skip(f'{precision} autocast unsupported here: {error}')
    tolerance = {'pred_vertices': 5e-3, 'pred_keypoints_3d': 5e-3, 'pred_keypoints_2d': 1e-2,
                 'pred_cam_t': 1e-2, 'pred_cam': 1e-2, 'betas': 3e-2,
                 'global_orient': 5e-2, 'hand_pose': 5e-2}
    for key in OUTPUT_KEYS:
        assert out[key].dtype == torch.float32
        assert _max_diff(out[key], detailed[key].numpy()) <= tolerance[key], key
    # Network layers really ran in reduced precision.
    assert _max_diff(out['pred_vertices'], detailed['pred_vertices'].numpy()) > 0


def _random_wilor(width, depth, mano_state):
    torch.manual_seed(7)
    backbone = WiLoRViT(embed_dim=width, depth=depth, num_heads=width // 80,
                        mlp_hidden_dim=4 * width)
    refine_net = RefineNet(feat_dim=width, first_dim=width // 2,
                           branch_widths=((width // 4,), (width // 4, width // 8)))
    with torch.no_grad():
        backbone.pos_embed.normal_(0, 0.02)
        backbone.init_hand_pose.copy_(mano_state['backbone.init_hand_pose'])
        backbone.init_betas.copy_(mano_state['backbone.init_betas'])
        backbone.init_cam.copy_(mano_state['backbone.init_cam'])
        for module in refine_net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    mano = MANOLayer(**mano_buffers_from_state_dict(mano_state))
    return WiLoR(backbone, refine_net, mano).eval()


def _lightning_layout(model, extra=None):
    state = {f'backbone.{k}': v for k, v in model.backbone.state_dict().items()}
    state.update({f'refine_net.{k}': v for k, v in model.refine_net.state_dict().items()})
    state.update({f'mano.{k}': v for k, v in model.mano.state_dict().items()})
    state['initialized'] = torch.tensor(False)
    state.update(extra or {})
    return {'epoch': 0, 'global_step': 0, 'pytorch-lightning_version': '2.6.6',
            'state_dict': state, 'hparams_name': 'kwargs'}


def test_other_dimensions_load_without_changes(tmp_path, crops):
    fixture_state = load_checkpoint(RECONSTRUCTOR, kind='WiLoR checkpoint')['state_dict']
    model = _random_wilor(240, 3, fixture_state)
    discriminator = {'discriminator.fc.weight': torch.zeros(4, 4)}
    path = tmp_path / 'x.ckpt'
    torch.save(_lightning_layout(model, discriminator), path)

    loaded = load_reconstructor(path)
    assert loaded.backbone.embed_dim == 240 and len(loaded.backbone.blocks) == 3
    assert loaded.backbone.blocks[0].attn.num_heads == 3
    assert loaded.backbone.blocks[0].mlp.fc1.out_features == 960
    assert loaded.refine_net.dec_pose.in_features == 120 + 60 + 30
    img = torch.from_numpy(crops['img'][:2])
    out = loaded(img)
    for key, shape in OUTPUT_SHAPES.items():
        assert out[key].shape == (2,) + shape, key
        assert torch.isfinite(out[key]).all(), key
    with torch.no_grad():
        reference = model(img)
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(out[key], reference[key], atol=1e-6, rtol=0)


def test_num_heads_override(crops, detailed):
    four = load_reconstructor(RECONSTRUCTOR, num_heads=4)
    assert four.backbone.blocks[0].attn.num_heads == 4
    out = four(torch.from_numpy(crops['img']))
    assert _max_diff(out['pred_vertices'], detailed['pred_vertices'].numpy()) > 1e-4
    with pytest.raises(CheckpointError, match='num_heads'):
        load_reconstructor(RECONSTRUCTOR, num_heads=3)


def test_missing_truncated_and_foreign_files(tmp_path):
    missing = tmp_path / 'wilor_final.ckpt'
    with pytest.raises(CheckpointError, match='does not exist') as error:
        load_reconstructor(missing)
    assert str(missing) in str(error.value)

    truncated = tmp_path / 'truncated.ckpt'
    truncated.write_bytes(RECONSTRUCTOR.read_bytes()[:4_000_000])
    with pytest.raises(CheckpointError) as error:
        load_reconstructor(truncated)
    assert str(truncated) in str(error.value) and 'WiLoR checkpoint' in str(error.value)

    with pytest.raises(CheckpointError, match='not a WiLoR checkpoint') as error:
        load_reconstructor(DETECTOR)
    assert str(DETECTOR) in str(error.value) and 'state_dict' in str(error.value)

    text = tmp_path / 'notes.txt'
    text.write_text('not a checkpoint\n')
    with pytest.raises(CheckpointError, match='not a torch zip checkpoint') as error:
        load_reconstructor(text)
    assert str(text) in str(error.value)


def test_state_dict_problems_are_named(tmp_path):
    checkpoint = load_checkpoint(RECONSTRUCTOR, kind='WiLoR checkpoint')
    state = dict(checkpoint['state_dict'])

    def save(name, changed):
        path = tmp_path / name
        torch.save({'state_dict': changed, 'epoch': 0}, path)
        return path

    without = {k: v for k, v in state.items() if k != 'backbone.blocks.1.mlp.fc2.weight'}
    with pytest.raises(CheckpointError, match='missing backbone.blocks.1.mlp.fc2.weight'):
        load_reconstructor(save('missing.ckpt', without))

    wrong = dict(state, **{'refine_net.dec_cam.weight': torch.zeros(3, 139)})
    with pytest.raises(CheckpointError, match=r'refine_net.dec_cam.weight \(3, 139\)') as err:
        load_reconstructor(save('wrong.ckpt', wrong))
    assert 'wrong.ckpt' in str(err.value)

    extra = dict(state, **{'head.weight': torch.zeros(1)})
    with pytest.raises(CheckpointError, match='unexpected tensors head.weight'):
        load_reconstructor(save('extra.ckpt', extra))

    no_mano = {k: v for k, v in state.items() if not k.startswith('mano.')}
    with pytest.raises(CheckpointError, match='mano_path'):
        load_reconstructor(save('no_mano.ckpt', no_mano))
    # The MANO model can then come from the pickle.
    assert load_reconstructor(save('no_mano.ckpt', no_mano), mano_path=MANO_PKL).faces.shape \
        == (1538, 3)


def test_foreign_mano_pickle_is_rejected(tmp_path):
    path = tmp_path / 'MANO_RIGHT.pkl'
    marker = malicious_marker(tmp_path)
    path.write_bytes(malicious_pickle(tmp_path, key='v_template'))
    with pytest.raises(MANOPickleError, match='system') as error:
        load_reconstructor(RECONSTRUCTOR, mano_path=path)
    assert str(path) in str(error.value)
    assert not marker.exists()
