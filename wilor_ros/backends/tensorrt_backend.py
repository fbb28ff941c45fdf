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
``backend: tensorrt``: engines built from the fp32 exports on the user's GPU, cached.

An engine is built with the ``tensorrt`` Python package (on a Jetson: JetPack's) from the
cached ONNX export (:mod:`.exports`), with the precision chosen here: fp16 by default
(``precision: auto``), bf16 (Ampere and later), tf32 or fp32; the detector never runs in bf16
(fp16 instead, as in torch). Each engine has one optimisation profile over the batch axis
(1 to :data:`MAX_CROPS` crops, 1 to :data:`MAX_FRAMES` frames; larger batches run in chunks).
Engines are cached under ``engines/tensorrt/<gpu>-sm<cc>-trt<version>/`` keyed by the GPU,
the TensorRT version, the export's key (weights hash, versions), the precision and the
profile; a cached engine deserialises in about a second. A stale, corrupt or foreign engine
is one line and a rebuild. Inputs and outputs are torch tensors on the device and the engine
runs on torch's current stream without waiting (the pipeline's two host waits per frame).
Engines are never shipped: the WiLoR weights are CC BY-NC-ND.
"""

import re
import time

import numpy as np
import torch

from wilor_ros.backends import BackendError, import_optional
from wilor_ros.backends.engine_cache import (CacheEntry, engines_dir, key_digest,
                                             open_with_rebuild, say)
from wilor_ros.backends.exported_networks import ExportedDetector, ExportedReconstructor
from wilor_ros.backends.exports import CachedExports

ENGINE_PRECISIONS = ('fp32', 'tf32', 'fp16', 'bf16')
# Batch profiles (min, opt, max) of the engines: crops of all hands of a batch of frames, and
# frames of one letterbox size (the cameras of a node).
MAX_CROPS = 16
MAX_FRAMES = 8
_PROFILES = {'reconstructor': (1, 2, MAX_CROPS), 'detector': (1, 1, MAX_FRAMES)}
# What a first build costs, said before it starts (measured by others on Orin / desktop GPUs;
# see docs/jetson.md).
_BUILD_TIME = {'reconstructor': 'several minutes (up to 15-20 on a Jetson Orin)',
               'detector': 'one to a few minutes'}


def engine_precision(precision, network):
    """Return the engine precision of ``network`` for the pipeline's ``precision`` option."""
    chosen = 'fp16' if precision == 'auto' else precision
    if chosen not in ENGINE_PRECISIONS:
        raise BackendError(f'backend tensorrt builds {", ".join(ENGINE_PRECISIONS)} engines, '
                           f'not {precision}')
    return 'fp16' if network == 'detector' and chosen == 'bf16' else chosen


def _torch_dtype(trt, dtype):
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.bool: torch.bool,
             trt.int32: torch.int32}
    if hasattr(trt, 'int64'):
        table[trt.int64] = torch.int64
    return table[dtype]


class TensorRTRunner:
    """
    One engine as a runner: {input: tensor on the GPU} -> {output: tensor on the GPU}.

    Raises ValueError when the bytes are no engine this TensorRT can run on this GPU.
    """

    def __init__(self, trt, engine_bytes, device):
        self.trt = trt
        self.device = torch.device(device)
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.runtime = trt.Runtime(self.logger)
        with torch.cuda.device(self.device):
            self.engine = self.runtime.deserialize_cuda_engine(engine_bytes)
            if self.engine is None:
                raise ValueError('TensorRT cannot deserialise it (built by another TensorRT '
                                 'version or for another GPU, or damaged)')
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [name for name in names
                       if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT]
        self.outputs = [name for name in names if name not in self.inputs]

    def __call__(self, inputs):
        """Enqueue the engine on torch's current stream; return its outputs (no wait)."""
        keep = []
        for name in self.inputs:
            value = inputs[name].to(device=self.device, dtype=_torch_dtype(
                self.trt, self.engine.get_tensor_dtype(name))).contiguous()
            keep.append(value)
            if -1 in tuple(self.engine.get_tensor_shape(name)):
                self.context.set_input_shape(name, tuple(value.shape))
            self.context.set_tensor_address(name, value.data_ptr())
        outputs = {}
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = _torch_dtype(self.trt, self.engine.get_tensor_dtype(name))
            outputs[name] = torch.empty(shape, dtype=dtype, device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError('TensorRT could not enqueue the engine')
        # The inputs cast above are freed in stream order by torch's allocator: safe.
        return {name: value.float() if value.dtype == torch.float16 else value
                for name, value in outputs.items()}


def build_engine(trt, onnx_path, precision, profile, what):
    """Parse an ONNX file and build a serialised engine (bytes); BackendError on failure."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH'):   # TensorRT 8.x
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    _set_precision(trt, config, precision)
    optimisation = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        shape = tuple(tensor.shape)
        if shape and shape[0] == -1:
            optimisation.set_shape(tensor.name, *[(size,) + shape[1:] for size in profile])
    config.add_optimization_profile(optimisation)
    monitor = _progress_monitor(trt, what)
    if monitor is not None:
        config.progress_monitor = monitor
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f'TensorRT could not build the {what} engine from {onnx_path} '
                           '(see its messages above)')
    say(f'{what} engine built in {time.perf_counter() - start:.0f} s')
    return bytes(serialized)


def _set_precision(trt, config, precision):
    flags = trt.BuilderFlag
    if precision == 'fp32' and hasattr(flags, 'TF32'):
        config.clear_flag(flags.TF32)
    if precision in ('fp16', 'bf16'):
        name = precision.upper()
        if not hasattr(flags, name):
            raise BackendError(
                f'TensorRT {trt.__version__} builds strongly typed networks only (no '
                f'BuilderFlag.{name}): a {precision} engine would need a {precision} ONNX '
                'export, which wilor_ros does not make; use precision fp32 or tf32, or '
                'TensorRT 10 (JetPack 6.1+ / 7)')
        config.set_flag(getattr(flags, name))


def _progress_monitor(trt, what):
    if not hasattr(trt, 'IProgressMonitor'):
        return None

    class Progress(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.started = time.perf_counter()
            self.said = 0.0

        # TensorRT calls these positionally, in IProgressMonitor's order (phase, parent, steps).
        def phase_start(self, phase_name, parent_phase, num_steps):
            if parent_phase is None:
                say(f'{what} engine: {phase_name} ({time.perf_counter() - self.started:.0f} '
                    's)')

        def step_complete(self, phase_name, step):
            now = time.perf_counter()
            if now - self.said > 30:   # a line every half minute at most
                self.said = now
                say(f'{what} engine: {phase_name} step {step} '
                    f'({now - self.started:.0f} s)')
            return True

        def phase_finish(self, phase_name):
            pass

    return Progress()


class EngineCache:
    """Engines of one GPU and TensorRT version, built from :class:`CachedExports`."""

    def __init__(self, trt, device, exports, cache_root=None):
        self.trt = trt
        self.device = torch.device(device)
        self.exports = exports
        properties = torch.cuda.get_device_properties(self.device)
        self.gpu = {'name': properties.name,
                    'compute_capability': f'{properties.major}.{properties.minor}'}
        slug = re.sub(r'[^A-Za-z0-9]+', '-', properties.name).strip('-').lower()
        self.folder = (engines_dir(cache_root) / 'tensorrt'
                       / f'{slug}-sm{properties.major}{properties.minor}-trt{trt.__version__}')

    def entry(self, network, onnx_entry, precision):
        """Return the (unchecked) engine cache entry for an export at ``precision``."""
        profile = _PROFILES[network]
        key = {'network': network, 'export': key_digest(onnx_entry.key), 'gpu': self.gpu,
               'tensorrt': self.trt.__version__, 'precision': precision,
               'batch_profile': list(profile)}
        shape = onnx_entry.stem.split('-', 2)[-1].rsplit('-', 1)[0]
        return CacheEntry(self.folder, f'{network}-{shape}-{precision}-b{profile[2]}', key,
                          f'TensorRT {network} engine')

    def runner(self, network, make_onnx, precision):
        """Return a runner of ``network``'s engine, building (and caching) it when needed."""
        def make_entry():
            onnx_entry = make_onnx()
            entry = self.entry(network, onnx_entry, precision)
            reason = entry.check()
            if reason is None:
                return entry
            if reason != 'missing':
                entry.refuse(reason)
            say(f'building the TensorRT {network} engine ({precision}, batch '
                f'{_PROFILES[network][0]}-{_PROFILES[network][2]}) for {self.gpu["name"]}: '
                f'{_BUILD_TIME[network]}, once; later starts load it in about a second')
            data = build_engine(self.trt, onnx_entry.path('.onnx'), precision,
                                _PROFILES[network], network)
            entry.temporary('.engine').write_bytes(data)
            entry.commit({'onnx': onnx_entry.path('.onnx').name})
            return entry

        def opener(entry):
            return TensorRTRunner(self.trt, entry.path('.engine').read_bytes(), self.device)

        return open_with_rebuild(make_entry, opener, f'{network} engine')[0]


def load_tensorrt(options, detector_path, reconstructor_path, device, cache_root=None):
    """Return (detector, reconstructor, precision) run by TensorRT engines on ``device``."""
    trt = import_optional('tensorrt')
    device = torch.device(device)
    if device.type != 'cuda':
        raise BackendError(f'backend tensorrt needs a CUDA GPU, not device {device}; use '
                           'backend onnxruntime or torch on the CPU')
    precision = engine_precision(options.precision, 'reconstructor')
    exports = CachedExports(detector_path, reconstructor_path, cache_root)
    engines = EngineCache(trt, device, exports, cache_root)
    runner = engines.runner('reconstructor', exports.reconstructor, precision)
    onnx_entry = exports.reconstructor()
    info = onnx_entry.info()
    reconstructor = ExportedReconstructor(runner, device, info['crop_size'],
                                          info['focal_length'],
                                          np.load(onnx_entry.path('.faces.npy')),
                                          max_batch=MAX_CROPS)
    exports.release('reconstructor')
    detector_precision = engine_precision(options.precision, 'detector')

    def detector_runner(input_hw, table_size):
        return engines.runner('detector', lambda: exports.detector(input_hw, table_size),
                              detector_precision)

    detector = ExportedDetector(exports.torch_network('detector'), device, detector_runner,
                                max_batch=MAX_FRAMES)
    return detector, reconstructor, precision
