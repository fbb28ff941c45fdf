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
ONNX export and ONNX Runtime backend against torch on the parity fixtures (CPU, fp32).

The fixture networks are exported once per module into a private cache (about a minute each
on one core); every test reads those real files through real ONNX Runtime sessions.
"""

import pathlib
import shutil
import sys
import types

from fixture_paths import DETECT_NPZ, DETECTOR, FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
import torch

from wilor_ros.backends import BackendError, import_optional
from wilor_ros.backends.engine_cache import CacheEntry, open_with_rebuild
from wilor_ros.backends.exported_networks import ExportedDetector
from wilor_ros.backends.exports import CachedExports
from wilor_ros.backends.onnxruntime_backend import OnnxRuntimeRunner, open_runner
from wilor_ros.detector import load_detector
from wilor_ros.letterbox import plan_letterbox
from wilor_ros.loading import load_pipeline, PipelineLoadError
from wilor_ros.options import PipelineOptions
from wilor_ros.reconstructor import load_reconstructor

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

TABLE_SIZE = 16
# The fixture detector's images: 480x640 and 333x463, both letterboxed to 384x512.
INPUT_HW = (384, 512)


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    # <cache>/engines, as $WILOR_ROS_CACHE=<cache> gives it.
    root = tmp_path_factory.mktemp('cache') / 'engines'
    exports = CachedExports(DETECTOR, RECONSTRUCTOR, root)
    exports.reconstructor()
    exports.detector(INPUT_HW, TABLE_SIZE)
    return root


@pytest.fixture(scope='module')
def images():
    data = np.load(DETECT_NPZ)
    return [data['image'], data['image_2']]


@pytest.fixture(scope='module')
def torch_detector():
    return load_detector(DETECTOR)


def test_detector_letterbox_size_is_the_exported_one(torch_detector, images):
    for image in images:
        box = plan_letterbox(image.shape[:2], torch_detector.imgsz, torch_detector.stride)
        assert box.input_hw == INPUT_HW


def test_reconstructor_onnxruntime_matches_torch_at_several_batches(cache):
    exports = CachedExports(DETECTOR, RECONSTRUCTOR, cache)
    entry = exports.reconstructor()
    assert entry.check() is None
    runner = OnnxRuntimeRunner(entry.path('.onnx'), 'cpu', entry.key)
    model = load_reconstructor(RECONSTRUCTOR)
    crops = torch.from_numpy(np.load(FIXTURES / 'wilor' / 'crops.npz')['img']).float()
    for batch in (crops[:1], crops, torch.cat((crops, crops[:2]))):   # 1, 3, 5: dynamic axis
        found = runner({'crops': batch})
        with torch.inference_mode():
            expected = model(batch)
        assert found['pred_vertices'].shape == (len(batch), 778, 3)
        assert (found['pred_vertices'] - expected['pred_vertices']).abs().max() <= 1e-5
        assert (found['pred_cam_t'] - expected['pred_cam_t']).abs().max() <= 1e-5
        assert (found['pred_keypoints_2d'] - expected['pred_keypoints_2d']).abs().max() <= 1e-5
        assert (found['hand_pose'] - expected['hand_pose']).abs().max() <= 1e-5
    info = entry.info()
    assert info['crop_size'] == 256 and info['deviation']['pred_vertices'] <= 1e-5
    assert np.array_equal(np.load(entry.path('.faces.npy')), model.faces)


def test_detector_onnxruntime_finds_the_same_hands(cache, torch_detector, images):
    exports = CachedExports(DETECTOR, RECONSTRUCTOR, cache)
    runner = OnnxRuntimeRunner(exports.detector(INPUT_HW, TABLE_SIZE).path('.onnx'), 'cpu')
    exported = ExportedDetector(torch_detector, 'cpu', lambda hw, table: runner)
    expected = torch_detector.detect_batch(images, conf=0.3, iou=0.7, max_det=10)
    found = exported.detect_batch(images, conf=0.3, iou=0.7, max_det=10)
    assert torch.equal(found['valid'], expected['valid'])
    assert min(found['valid'].sum(1).tolist()) > 0   # hands in both frames
    valid = expected['valid']
    assert torch.equal(found['is_right'][valid], expected['is_right'][valid])
    assert (found['boxes'][valid] - expected['boxes'][valid]).abs().max() <= 0.1
    assert (found['keypoints'][valid] - expected['keypoints'][valid]).abs().max() <= 0.1
    assert (found['scores'][valid] - expected['scores'][valid]).abs().max() <= 1e-4
    # The thresholds are graph inputs: another conf, iou and max_det need no new export.
    fewer = exported.detect_batch(images, conf=0.6, iou=0.5, max_det=3)
    reference = torch_detector.detect_batch(images, conf=0.6, iou=0.5, max_det=3)
    assert torch.equal(fewer['valid'], reference['valid'])


def test_pipeline_onnxruntime_end_to_end(cache, monkeypatch, images, capsys):
    monkeypatch.setenv('WILOR_ROS_CACHE', str(cache.parent))
    exported = load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', backend='onnxruntime')
    reference = load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu')
    assert exported.precision == 'fp32'
    assert 'exporting' not in capsys.readouterr().err   # both came from the cache
    for image in images:
        found, expected = exported(image), reference(image)
        assert len(found) == len(expected) > 0
        for a, b in zip(found, expected):
            assert a.is_right == b.is_right
            assert np.abs(a.box - b.box).max() <= 0.1
            # Boxes 1e-3 px apart move the random-weight fixture's crops and so its mesh by up
            # to ~6e-4 m (test_pipeline.py's RERUN_TOLERANCE); same boxes: below.
            assert np.abs(a.vertices - b.vertices).max() <= 2e-3
        boxes = np.stack([hand.box for hand in expected])
        sides = np.array([hand.is_right for hand in expected])
        same_boxes = exported.reconstruct(image, boxes, sides)
        for a, b in zip(same_boxes, reference.reconstruct(image, boxes, sides)):
            assert np.abs(a.vertices - b.vertices).max() <= 1e-4
            assert np.abs(a.keypoints_3d - b.keypoints_3d).max() <= 1e-4


def test_backend_options_are_checked():
    with pytest.raises(ValueError, match='unknown backend'):
        PipelineOptions(backend='openvino')
    with pytest.raises(ValueError, match='compile is for backend torch'):
        PipelineOptions(backend='onnxruntime', compile=True)


def _copy(cache, tmp_path):
    root = tmp_path / 'engines'
    shutil.copytree(cache, root)
    return root


def test_truncated_or_mismatched_exports_are_told(cache, tmp_path, capsys):
    root = _copy(cache, tmp_path)
    exports = CachedExports(DETECTOR, RECONSTRUCTOR, root)
    entry = exports.reconstructor_entry()
    onnx_file = entry.path('.onnx')
    data = onnx_file.with_name(onnx_file.name + '.data')
    data.write_bytes(data.read_bytes()[:1000])
    assert 'truncated' in entry.check()
    # A sidecar made for other weights: refused by key.
    other = CacheEntry(entry.folder, 'reconstructor-' + entry.key['weights_sha256'][:12],
                       dict(entry.key, weights_sha256='0' * 64), entry.what)
    assert other.check() == 'missing'
    shutil.copy(entry.sidecar, other.sidecar)
    assert other.check() == 'made for other weights_sha256'
    # The truncated export is told in one line and removed (made again: the next test).
    entry.refuse(entry.check())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and 'truncated or replaced' in lines[0]
    assert 'making it again' in lines[0]
    assert not onnx_file.exists() and entry.check() == 'missing'


def test_corrupt_or_foreign_onnx_is_told_and_made_again(cache, tmp_path, capsys):
    root = _copy(cache, tmp_path)
    exports = CachedExports(DETECTOR, RECONSTRUCTOR, root)
    entry = exports.detector_entry(INPUT_HW, TABLE_SIZE)
    onnx_file = entry.path('.onnx')
    # Same size, garbage content: passes the size check, ONNX Runtime refuses it.
    onnx_file.write_bytes(b'\x07' * onnx_file.stat().st_size)
    assert entry.check() is None
    with pytest.raises(Exception):
        OnnxRuntimeRunner(onnx_file, 'cpu', entry.key)
    runner, fresh = open_runner(lambda: exports.detector(INPUT_HW, TABLE_SIZE), 'cpu',
                                'detector')
    lines = [line for line in capsys.readouterr().err.splitlines() if 'unusable' in line]
    assert len(lines) == 1 and 'detector' in lines[0]
    assert fresh.check() is None
    # A valid ONNX file of another network under this name: its embedded key says so.
    shutil.copy(exports.reconstructor_entry().path('.onnx'), onnx_file)
    with pytest.raises(ValueError, match='another cache key'):
        OnnxRuntimeRunner(onnx_file, 'cpu', fresh.key)


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)   # as on a machine without it
    with pytest.raises(BackendError, match=r'wilor_ros\[tensorrt\]'):
        import_optional('tensorrt')
    with pytest.raises(PipelineLoadError, match=r'backend tensorrt: tensorrt is not installed'):
        load_pipeline(DETECTOR, RECONSTRUCTOR, device='cpu', backend='tensorrt')


def test_wilor_export_finds_the_cached_exports(cache, capsys):
    from wilor_ros.tools.export import main
    assert main(['--detector', str(DETECTOR), '--reconstructor', str(RECONSTRUCTOR),
                 '--image-size', '480x640', '--image-size', '333x463',
                 '--cache', str(cache)]) == 0
    captured = capsys.readouterr()
    printed = captured.out.split()
    assert len(printed) == 2 and all(path.endswith('.onnx') for path in printed)
    # Both image sizes share the 384x512 letterbox: one detector export, two steps in all.
    assert 'exporting' not in captured.err and '[2/2] detector for 384x512' in captured.err
    assert main(['--detector', str(DETECTOR), '--reconstructor', '/nonexistent.ckpt',
                 '--cache', str(cache)]) == 1
    assert 'reconstructor weights not found' in capsys.readouterr().err


def test_wilor_export_lists_the_engines_it_built_not_the_whole_folder(cache, tmp_path,
                                                                      monkeypatch, capsys):
    """--tensorrt with an engine cache that TensorRT is faked for (no GPU here)."""
    from wilor_ros.backends import tensorrt_backend
    from wilor_ros.tools import export

    class Engines(tensorrt_backend.EngineCache):
        def __init__(self, trt, device, exports, cache_root=None):
            self.trt, self.device, self.exports = trt, device, exports
            self.gpu = {'name': 'Fake GPU', 'compute_capability': '8.7'}
            self.folder = tmp_path / 'tensorrt'

        def runner(self, network, make_onnx, precision):
            entry = self.entry(network, make_onnx(), precision)
            entry.path('.engine').write_bytes(b'engine')
            return object()

    (tmp_path / 'tensorrt').mkdir()
    stale = tmp_path / 'tensorrt' / 'reconstructor-of-other-weights-fp32-b16.engine'
    stale.write_bytes(b'old')
    monkeypatch.setitem(sys.modules, 'tensorrt', types.SimpleNamespace(__version__='10.3.0'))
    monkeypatch.setattr(tensorrt_backend, 'EngineCache', Engines)
    monkeypatch.setattr(export, 'resolve_device', lambda device: 'cuda:0')
    assert export.main(['--detector', str(DETECTOR), '--reconstructor', str(RECONSTRUCTOR),
                        '--image-size', '480x640', '--image-size', '333x463', '--tensorrt',
                        '--cache', str(cache)]) == 0
    captured = capsys.readouterr()
    engines = [path for path in captured.out.split() if path.endswith('.engine')]
    assert len(engines) == 2 and str(stale) not in engines
    assert all(pathlib.Path(path).read_bytes() == b'engine' for path in engines)
    assert '[3/4] TensorRT reconstructor engine' in captured.err
    assert '[4/4] TensorRT detector engines' in captured.err


def test_an_error_without_a_message_is_one_line_and_a_rebuild(tmp_path, capsys):
    made, opened = [], []

    def make_entry():
        made.append(CacheEntry(tmp_path, 'thing', {'n': 1}, 'test entry'))
        return made[-1]

    def opener(entry):
        opened.append(entry)
        if len(opened) == 1:
            raise RuntimeError()  # some runtimes raise without a message
        return 'session'

    assert open_with_rebuild(make_entry, opener, 'thing')[0] == 'session'
    assert len(made) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and 'unusable (thing: RuntimeError)' in lines[0]


def test_tensorrt_phase_lines_are_said_for_top_level_phases(capsys):
    from wilor_ros.backends.tensorrt_backend import _progress_monitor

    class Monitor:
        def __init__(self):
            pass

    monitor = _progress_monitor(types.SimpleNamespace(IProgressMonitor=Monitor), 'detector')
    # TensorRT's order: phase_start(phase_name, parent_phase, num_steps), positionally.
    monitor.phase_start('Building engine', None, 3)
    monitor.phase_start('Tactic selection', 'Building engine', 40)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and 'detector engine: Building engine' in lines[0]
