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
``backend: onnxruntime``: the fp32 exports run by ONNX Runtime.

On a GPU the session uses the CUDA execution provider on torch's current stream, and inputs and
outputs are bound to torch tensors (IO binding, no host copy, no wait: the pipeline's two host
waits per frame hold); on the CPU the tensors are passed as numpy views. A cached export that
ONNX Runtime cannot open, or that carries another cache key, is said in one line and exported
again.
"""

import json

import numpy as np
import torch

from wilor_ros.backends import BackendError, import_optional
from wilor_ros.backends.engine_cache import open_with_rebuild, say
from wilor_ros.backends.exported_networks import ExportedDetector, ExportedReconstructor
from wilor_ros.backends.exports import CachedExports
from wilor_ros.backends.onnx_export import KEY_METADATA

_TORCH_DTYPES = {'tensor(float)': torch.float32, 'tensor(bool)': torch.bool,
                 'tensor(int64)': torch.int64}


class OnnxRuntimeRunner:
    """
    One ONNX Runtime session as a runner: {input: tensor} -> {output: tensor}.

    ``path``: the ONNX file; ``device``: torch device of the tensors (``cuda:N`` uses the CUDA
    provider on torch's current stream, anything else the CPU provider); ``key``: the cache key
    the file must carry (:data:`KEY_METADATA`), or None. Raises ValueError when the file
    carries another key, and ONNX Runtime's own errors when it cannot be read.
    """

    def __init__(self, path, device, key=None):
        ort = import_optional('onnxruntime')
        self.device = torch.device(device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        options.log_severity_level = 3
        providers = ['CPUExecutionProvider']
        if self.device.type == 'cuda':
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise BackendError(
                    f'onnxruntime {ort.__version__} has no CUDA provider (providers: '
                    f'{", ".join(ort.get_available_providers())}); install onnxruntime-gpu '
                    '(on a Jetson: the Jetson wheel, docs/jetson.md) or use device cpu')
            stream = torch.cuda.current_stream(self.device).cuda_stream
            providers = [('CUDAExecutionProvider', {
                'device_id': self.device.index or 0, 'has_user_compute_stream': '1',
                'user_compute_stream': str(stream)}), 'CPUExecutionProvider']
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        found = self.session.get_modelmeta().custom_metadata_map.get(KEY_METADATA)
        if key is not None and (found is None or json.loads(found) != key):
            raise ValueError('the file carries another cache key (weights, versions or '
                             'shapes)')
        self.outputs = [(item.name, item.shape, _TORCH_DTYPES[item.type])
                        for item in self.session.get_outputs()]
        self._run_options = ort.RunOptions()
        # Outputs stay on torch's stream, read by the pipeline's one copy per stage.
        self._run_options.add_run_config_entry('disable_synchronize_execution_providers', '1')

    def __call__(self, inputs):
        """Run the session on ``inputs`` (tensors on the device); tensors on the device."""
        if self.device.type != 'cuda':
            feed = {name: value.detach().cpu().numpy() for name, value in inputs.items()}
            values = self.session.run([name for name, _, _ in self.outputs], feed)
            return {name: torch.from_numpy(np.ascontiguousarray(value))
                    for (name, _, _), value in zip(self.outputs, values)}
        return self._run_bound(inputs)

    def _run_bound(self, inputs):
        binding = self.session.io_binding()
        index = self.device.index or 0
        batch = next(iter(inputs.values())).shape[0]
        for name, value in inputs.items():
            value = value.contiguous()
            binding.bind_input(name, 'cuda', index, _numpy_dtype(value.dtype),
                               tuple(value.shape), value.data_ptr())
        outputs = {}
        for name, shape, dtype in self.outputs:
            # The first axis is the dynamic batch; the others are fixed by the export.
            size = (batch,) + tuple(int(v) for v in shape[1:])
            outputs[name] = torch.empty(size, dtype=dtype, device=self.device)
            binding.bind_output(name, 'cuda', index, _numpy_dtype(dtype), size,
                                outputs[name].data_ptr())
        self.session.run_with_iobinding(binding, self._run_options)
        return outputs


def _numpy_dtype(dtype):
    return {torch.float32: np.float32, torch.bool: np.bool_, torch.int64: np.int64}[dtype]


def open_runner(make_entry, device, what):
    """Open a session on a cached export (made again once when unreadable): (runner, entry)."""
    def opener(entry):
        return OnnxRuntimeRunner(entry.path('.onnx'), device, entry.key)
    return open_with_rebuild(make_entry, opener, what)


def load_onnxruntime(options, detector_path, reconstructor_path, device, cache_root=None):
    """Return (detector, reconstructor, 'fp32') run by ONNX Runtime on ``device``."""
    import_optional('onnxruntime')
    if options.precision not in ('auto', 'fp32'):
        raise BackendError(f'backend onnxruntime runs the fp32 export; precision '
                           f'{options.precision} needs backend torch or tensorrt')
    exports = CachedExports(detector_path, reconstructor_path, cache_root)
    runner, entry = open_runner(exports.reconstructor, device, 'reconstructor')
    info = entry.info()
    faces = np.load(entry.path('.faces.npy'))
    reconstructor = ExportedReconstructor(runner, device, info['crop_size'],
                                          info['focal_length'], faces)
    exports.release('reconstructor')

    def detector_runner(input_hw, table_size):
        say(f'hand detector for {input_hw[0]}x{input_hw[1]} letterboxes, {table_size} rows: '
            'ONNX Runtime session')
        return open_runner(lambda: exports.detector(input_hw, table_size), device,
                           'detector')[0]

    detector = ExportedDetector(exports.torch_network('detector'), device, detector_runner)
    return detector, reconstructor, 'fp32'
