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
The TensorRT backend up to the point where a GPU is needed, with a stand-in of ``tensorrt``.

``tensorrt`` cannot be installed here (its PyPI wheel fetches the libraries from NVIDIA's
index) and an engine needs a GPU, so ``test/tensorrt_stand_in.py`` plays TensorRT's part: it
parses the real exports of the fixture networks with ``onnx``, refuses to build a network
whose dynamic inputs lack a fitting optimisation profile, and refuses engines of another
version, as TensorRT does. Checked here: what the backend asks TensorRT to build (batch
profiles of both exports, precision flags), the engine cache (keyed by GPU, TensorRT version,
export and precision; loaded without a build the second time; a corrupt, truncated or foreign
engine is one line and a rebuild) and the runner's view of the engine's inputs and outputs.
Running an engine needs CUDA (``bench/gpu_check.py`` on a GPU).
"""

import contextlib
import types

from fixture_paths import DETECTOR, RECONSTRUCTOR
import pytest
import tensorrt_stand_in
import torch

from wilor_ros.backends import BackendError
from wilor_ros.backends import tensorrt_backend as backend
from wilor_ros.backends.exports import CachedExports
from wilor_ros.backends.onnx_export import (DETECTOR_INPUTS, DETECTOR_OUTPUTS,
                                            RECONSTRUCTOR_INPUTS, RECONSTRUCTOR_OUTPUTS)

pytest.importorskip('onnxruntime')   # the exports check themselves against torch with it
pytest.importorskip('onnxscript')

INPUT_HW = (384, 512)
TABLE_SIZE = 16
ORIN = types.SimpleNamespace(name='NVIDIA Jetson AGX Orin', major=8, minor=7)


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    """Export the fixture networks to ONNX once, into a private cache."""
    made = CachedExports(DETECTOR, RECONSTRUCTOR, tmp_path_factory.mktemp('cache') / 'engines')
    made.reconstructor()
    made.detector(INPUT_HW, TABLE_SIZE)
    return made


@pytest.fixture
def gpu(monkeypatch):
    """Make torch.cuda report an Orin (only its properties and device scope are used)."""
    monkeypatch.setattr(torch.cuda, 'get_device_properties', lambda device: ORIN)
    monkeypatch.setattr(torch.cuda, 'device', lambda device: contextlib.nullcontext())


def _engine(data):
    import json

    return json.loads(data.decode())


def test_both_exports_parse_and_build_with_their_batch_profiles(exports, capsys):
    trt = tensorrt_stand_in.make()
    path = exports.reconstructor().path('.onnx')
    engine = _engine(backend.build_engine(trt, path, 'fp16', (1, 2, 16), 'reconstructor'))
    inputs = {name: shape for name, mode, shape, _ in engine['tensors'] if mode == 'INPUT'}
    outputs = [name for name, mode, *_ in engine['tensors'] if mode == 'OUTPUT']
    assert list(inputs) == list(RECONSTRUCTOR_INPUTS) and outputs == list(RECONSTRUCTOR_OUTPUTS)
    assert inputs['crops'] == [-1, 3, 256, 256]          # the dynamic batch axis of the export
    assert engine['profiles'] == {'crops': [[1, 3, 256, 256], [2, 3, 256, 256],
                                            [16, 3, 256, 256]]}
    assert engine['flags'] == ['FP16', 'TF32']            # fp16, TF32 as TensorRT's default
    assert 'reconstructor engine: Building engine' in capsys.readouterr().err

    path = exports.detector(INPUT_HW, TABLE_SIZE).path('.onnx')
    engine = _engine(backend.build_engine(trt, path, 'fp32', (1, 1, 8), 'detector'))
    inputs = {name: shape for name, mode, shape, _ in engine['tensors'] if mode == 'INPUT'}
    outputs = [name for name, mode, *_ in engine['tensors'] if mode == 'OUTPUT']
    assert list(inputs) == list(DETECTOR_INPUTS) and outputs == list(DETECTOR_OUTPUTS)
    assert inputs['images'] == [-1, 3, *INPUT_HW]
    # Only the frames axis is dynamic: the thresholds are scalars, the table has its rows.
    assert set(engine['profiles']) == {'images'}
    assert engine['profiles']['images'][2] == [8, 3, *INPUT_HW]
    assert engine['flags'] == []                          # strict fp32: TF32 cleared


def test_what_tensorrt_cannot_do_is_one_clear_error(exports, tmp_path):
    path = exports.reconstructor().path('.onnx')
    with pytest.raises(BackendError, match='builds strongly typed networks only'):
        backend.build_engine(tensorrt_stand_in.make('8.6.2', bf16=False), path, 'bf16',
                             (1, 2, 16), 'reconstructor')
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not an onnx file')
    with pytest.raises(BackendError, match=f'TensorRT cannot parse {broken}'):
        backend.build_engine(tensorrt_stand_in.make(), broken, 'fp16', (1, 2, 16),
                             'reconstructor')
    # A build that TensorRT gives up on (it returns None after logging why, e.g. out of
    # memory or an unsupported layer): one error naming the network and the file.
    trt = tensorrt_stand_in.make()
    trt.Builder.build_serialized_network = lambda self, network, config: None
    with pytest.raises(BackendError, match='could not build the reconstructor engine from'):
        backend.build_engine(trt, path, 'fp16', (1, 2, 16), 'reconstructor')


def test_engines_are_built_once_then_loaded_per_gpu_version_and_precision(
        exports, gpu, capsys):
    trt = tensorrt_stand_in.make('10.3.0')
    engines = backend.EngineCache(trt, 'cuda:0', exports, exports.cache_root)
    assert engines.folder.name == 'nvidia-jetson-agx-orin-sm87-trt10.3.0'
    runner = engines.runner('reconstructor', exports.reconstructor, 'fp16')
    assert trt.builds == 1 and 'building the TensorRT reconstructor engine (fp16, batch 1-16) ' \
        'for NVIDIA Jetson AGX Orin' in capsys.readouterr().err
    assert runner.inputs == list(RECONSTRUCTOR_INPUTS)
    assert runner.outputs == list(RECONSTRUCTOR_OUTPUTS)

    # The next start (a new cache object, as in a new process) loads it without building.
    again = backend.EngineCache(trt, 'cuda:0', exports, exports.cache_root)
    again.runner('reconstructor', exports.reconstructor, 'fp16')
    assert trt.builds == 1 and 'building' not in capsys.readouterr().err
    # Another precision, another TensorRT: engines of their own; the first one stays.
    again.runner('reconstructor', exports.reconstructor, 'fp32')
    newer = tensorrt_stand_in.make('10.7.0')
    backend.EngineCache(newer, 'cuda:0', exports, exports.cache_root).runner(
        'reconstructor', exports.reconstructor, 'fp16')
    assert trt.builds == 2 and newer.builds == 1
    engines.runner('reconstructor', exports.reconstructor, 'fp16')
    assert trt.builds == 2
    detector = engines.runner('detector', lambda: exports.detector(INPUT_HW, TABLE_SIZE),
                              'fp16')
    assert detector.inputs == list(DETECTOR_INPUTS) and trt.builds == 3


def test_a_corrupt_truncated_or_foreign_engine_is_one_line_and_a_rebuild(
        exports, gpu, capsys):
    trt = tensorrt_stand_in.make('10.3.0')
    engines = backend.EngineCache(trt, 'cuda:0', exports, exports.cache_root)
    engines.runner('reconstructor', exports.reconstructor, 'tf32')
    entry = engines.entry('reconstructor', exports.reconstructor(), 'tf32')
    engine = entry.path('.engine')
    built = trt.builds
    capsys.readouterr()

    # Same size, other bytes (a damaged disk, a copy from elsewhere): TensorRT refuses it.
    engine.write_bytes(b'\0' * engine.stat().st_size)
    engines.runner('reconstructor', exports.reconstructor, 'tf32')
    lines = capsys.readouterr().err.splitlines()
    refused = [line for line in lines if 'unusable' in line]
    assert len(refused) == 1 and 'TensorRT cannot deserialise it' in refused[0], lines
    assert trt.builds == built + 1 and _engine(engine.read_bytes())['version'] == '10.3.0'

    # Truncated: the cache's own check sees it before TensorRT is asked.
    engine.write_bytes(engine.read_bytes()[:100])
    engines.runner('reconstructor', exports.reconstructor, 'tf32')
    lines = capsys.readouterr().err.splitlines()
    assert any('instead of' in line and 'truncated' in line for line in lines), lines
    assert trt.builds == built + 2

    # An engine of another TensorRT put in its place, sizes and sidecar made to match.
    other = tensorrt_stand_in.make('10.7.0')
    foreign = backend.build_engine(other, exports.reconstructor().path('.onnx'), 'tf32',
                                   (1, 2, 16), 'reconstructor')
    foreign = foreign.ljust(engine.stat().st_size)[:engine.stat().st_size]
    engine.write_bytes(foreign)
    engines.runner('reconstructor', exports.reconstructor, 'tf32')
    assert trt.builds == built + 3
    assert _engine(engine.read_bytes())['version'] == '10.3.0'
