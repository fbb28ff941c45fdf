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

"""The restricted checkpoint reader: real files load, foreign or malicious pickles never run."""

import io

from bad_weights import malicious_marker, malicious_pickle, write_torch_zip
from fixture_paths import DETECTOR, RECONSTRUCTOR
import pytest
import torch
from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint, module_state_dict


def test_detector_checkpoint_loads_as_inert_containers():
    checkpoint = load_checkpoint(DETECTOR, kind='detector')
    model = checkpoint['model']
    assert model.cls_name == 'ultralytics.nn.tasks.PoseModel'
    assert model.names == {0: 'left', 1: 'right'}
    assert checkpoint['train_args']['imgsz'] == 512
    state = module_state_dict(model)
    assert len(state) == 397
    assert state['model.0.conv.weight'].dtype == torch.float16
    assert torch.equal(state['model.22.dfl.conv.weight'].flatten().float(), torch.arange(16.0))


def test_lightning_checkpoint_state_dict_matches_torch_load():
    checkpoint = load_checkpoint(RECONSTRUCTOR, kind='WiLoR checkpoint')
    state = checkpoint['state_dict']
    assert len(state) == 130
    assert checkpoint['hyper_parameters']['cfg'].cls_name == 'yacs.config.CfgNode'
    # torch's own weights-only reader cannot rebuild the CfgNode, but it can read the raw
    # storages of a copy of the state dict re-saved by us: the tensors must be identical.
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    buffer.seek(0)
    reference = torch.load(buffer, weights_only=True)
    for name, tensor in state.items():
        assert torch.equal(reference[name], tensor), name
    assert state['backbone.init_cam'].tolist() == [[4.0, 0.0, 0.0]]


def test_pickle_asking_for_os_system_is_rejected_before_running(tmp_path):
    path = tmp_path / 'evil.pt'
    write_torch_zip(path, malicious_pickle(tmp_path, key='model'))
    with pytest.raises(CheckpointError, match=r"evil\.pt.*'(posix|os)\.system'"):
        load_checkpoint(path, kind='detector')
    assert not malicious_marker(tmp_path).exists()


@pytest.mark.parametrize('target', ['builtins.eval', 'subprocess.Popen', 'torch.load'])
def test_other_dangerous_globals_are_rejected(tmp_path, target):
    module, name = target.rsplit('.', 1)
    payload = f'c{module}\n{name}\n(S"1"\ntR.'.encode()
    path = tmp_path / 'bad.ckpt'
    write_torch_zip(path, payload)
    with pytest.raises(CheckpointError, match=name):
        load_checkpoint(path, kind='WiLoR checkpoint')


def test_getattr_only_on_inert_classes(tmp_path):
    payload = b'c__builtin__\ngetattr\n(cos\npath\nS"join"\ntR.'
    path = tmp_path / 'bad.pt'
    write_torch_zip(path, payload)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, kind='detector')


def test_missing_truncated_and_foreign_files_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'nope.pt', kind='detector')
    truncated = tmp_path / 'half.pt'
    truncated.write_bytes(DETECTOR.read_bytes()[: DETECTOR.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r'half\.pt.*torch'):
        load_checkpoint(truncated, kind='detector')
    text = tmp_path / 'notes.txt'
    text.write_text('not a checkpoint')
    with pytest.raises(CheckpointError, match=r'notes\.txt'):
        load_checkpoint(text, kind='WiLoR checkpoint')
