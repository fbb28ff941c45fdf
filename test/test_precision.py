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

"""Precisions: auto, strict fp32 / tf32 switches, weights cast once, the detector never bf16."""

from unittest import mock

from fixture_paths import FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros import loading
from wilor_ros.precision import (configure_backends, detector_dtype, PRECISIONS,
                                 resolve_precision)
from wilor_ros.reconstructor import load_reconstructor, OUTPUT_KEYS


def test_auto_is_bf16_on_cuda_and_fp32_on_the_cpu():
    assert resolve_precision('auto', 'cuda') == 'bf16'
    assert resolve_precision('auto', 'cuda:1') == 'bf16'
    assert resolve_precision('auto', 'cpu') == 'fp32'
    assert resolve_precision(torch.bfloat16, 'cpu') == 'bf16'
    assert set(PRECISIONS) == {'auto', 'fp32', 'tf32', 'fp16', 'bf16'}
    with pytest.raises(ValueError, match='precision'):
        resolve_precision('int8', 'cpu')


def test_detector_never_runs_in_bf16():
    assert detector_dtype('bf16') == torch.float16
    assert detector_dtype('fp16') == torch.float16
    assert detector_dtype('fp32') == detector_dtype('tf32') == torch.float32


def test_fp32_switches_tf32_off_and_tf32_on():
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    try:
        configure_backends('tf32')
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        configure_backends('fp32')
        assert not torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == 'highest'
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.set_float32_matmul_precision(saved[2])


def test_weights_are_cast_once_and_match_autocast_over_fp32_weights():
    crops = torch.from_numpy(np.load(FIXTURES / 'wilor' / 'crops.npz')['img'])
    cast = load_reconstructor(RECONSTRUCTOR, dtype='bf16')
    linear = cast.backbone.blocks[0].attn.qkv
    assert linear.weight.dtype == torch.bfloat16
    assert cast.backbone.blocks[0].norm1.weight.dtype == torch.float32
    assert cast.refine_net.deconv.deconv[0][1].weight.dtype == torch.float32  # BatchNorm
    assert cast.mano.posedirs.dtype == torch.float32
    # Reference: fp32 weights, bf16 autocast per call (what the code did before).
    per_call = load_reconstructor(RECONSTRUCTOR)
    with torch.inference_mode():
        ours = cast(crops)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            vit = per_call.backbone(per_call.model_input(crops))
        per_call._dtype = torch.bfloat16  # autocast the heads too, fp32 weights
        expected = per_call.run_heads(vit)
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(ours[key], expected[key].float(), atol=0, rtol=0)
    with pytest.raises(ValueError, match='load the checkpoint again'):
        cast.set_precision('fp32')
    assert cast.set_precision('bf16') is cast


def test_auto_device_warns_when_a_gpu_is_there_but_cuda_is_not():
    with mock.patch('torch.cuda.is_available', return_value=False), \
            mock.patch('os.path.exists', return_value=True):
        with pytest.warns(RuntimeWarning, match='GPU is present.*CPU'):
            assert loading.resolve_device('auto') == 'cpu'
    with mock.patch('torch.cuda.is_available', return_value=False), \
            mock.patch('os.path.exists', return_value=False), \
            mock.patch('shutil.which', return_value=None):
        assert loading.resolve_device('auto') == 'cpu'
