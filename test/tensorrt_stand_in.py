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
A stand-in of the ``tensorrt`` Python API (10.x) for machines where TensorRT cannot install.

TensorRT's PyPI wheel fetches its libraries from NVIDIA's index at install time, which CI and
this project's machines cannot reach, and an engine needs a GPU. This stand-in implements the
part of the API that ``wilor_ros.backends.tensorrt_backend`` calls, with TensorRT's documented
behaviour where it matters to the backend:

* ``OnnxParser.parse_from_file`` really parses the file with ``onnx`` (external data included)
  and runs ``onnx.checker``, then exposes the graph's inputs and outputs with TensorRT's shape
  convention (-1 for a dynamic axis); a file ``onnx`` cannot read is a parse error;
* ``build_serialized_network`` fails, as TensorRT does, when a dynamic input has no
  optimisation profile or a profile contradicts the input's rank or static sizes; it reports
  phases to ``config.progress_monitor``; the "engine" it returns is a JSON description of the
  network (inputs, outputs, profiles, precision flags) and of the version that built it;
* ``Runtime.deserialize_cuda_engine`` returns None (TensorRT logs and returns None) for bytes it
  cannot read or that another version built.

``make(version, bf16=True)`` returns a fresh module object; ``builds`` counts its engine builds.
"""

import json
import types

_FORMAT = 'tensorrt stand-in engine'


class _DataType:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f'DataType.{self.name}'


class _Flag(int):
    pass


def make(version='10.3.0', bf16=True):
    """Return a stand-in ``tensorrt`` module of ``version`` (``bf16``: BuilderFlag.BF16)."""
    import onnx   # here: the tests that use the stand-in skip where onnx is not installed

    trt = types.ModuleType('tensorrt')
    trt.__version__ = version
    trt.builds = 0
    names = ('float32', 'float16', 'bool', 'int32', 'int64', 'int8')
    dtypes = {name: _DataType(name) for name in names}
    for name, dtype in dtypes.items():
        setattr(trt, name, dtype)
    onnx_types = {onnx.TensorProto.FLOAT: dtypes['float32'],
                  onnx.TensorProto.FLOAT16: dtypes['float16'],
                  onnx.TensorProto.BOOL: dtypes['bool'], onnx.TensorProto.INT32: dtypes['int32'],
                  onnx.TensorProto.INT64: dtypes['int64']}

    class Logger:
        ERROR, WARNING, INFO = 1, 2, 3

        def __init__(self, severity=2):
            self.severity = severity

    class NetworkDefinitionCreationFlag:
        STRONGLY_TYPED = 1   # TensorRT 10: no EXPLICIT_BATCH (every network is explicit)

    flags = {'FP16': _Flag(0), 'TF32': _Flag(1), 'INT8': _Flag(2)}
    if bf16:
        flags['BF16'] = _Flag(3)
    BuilderFlag = type('BuilderFlag', (), dict(flags))

    class TensorIOMode:
        INPUT, OUTPUT = 'INPUT', 'OUTPUT'

    class Tensor:
        def __init__(self, name, shape, dtype):
            self.name, self.shape, self.dtype = name, tuple(shape), dtype

    class Network:
        def __init__(self, flags):
            self.flags = flags
            self.inputs, self.outputs = [], []

        @property
        def num_inputs(self):
            return len(self.inputs)

        def get_input(self, index):
            return self.inputs[index]

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.errors, self.num_errors = network, [], 0

        def get_error(self, index):
            return self.errors[index]

        def parse_from_file(self, path):
            try:
                model = onnx.load(str(path))     # with its external data file
                onnx.checker.check_model(str(path))
            except Exception as error:  # noqa: B902 (onnx raises several kinds)
                self.errors.append(f'ModelImporter: {type(error).__name__}: {error}')
                self.num_errors = len(self.errors)
                return False
            initialisers = {init.name for init in model.graph.initializer}
            for values, into in ((model.graph.input, self.network.inputs),
                                 (model.graph.output, self.network.outputs)):
                for value in values:
                    if value.name in initialisers:
                        continue
                    kind = value.type.tensor_type
                    shape = [dim.dim_value if dim.HasField('dim_value') else -1
                             for dim in kind.shape.dim]
                    into.append(Tensor(value.name, shape, onnx_types[kind.elem_type]))
            return True

    class OptimizationProfile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, minimum, optimum, maximum):
            self.shapes[name] = [list(minimum), list(optimum), list(maximum)]

    class BuilderConfig:
        def __init__(self):
            self.flags, self.profiles, self.progress_monitor = set(), [], None

        def set_flag(self, flag):
            self.flags.add(int(flag))

        def clear_flag(self, flag):
            self.flags.discard(int(flag))

        def get_flag(self, flag):
            return int(flag) in self.flags

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

    class Builder:
        def __init__(self, logger):
            self.logger = logger

        def create_network(self, flags=0):
            return Network(flags)

        def create_builder_config(self):
            # TensorRT enables TF32 by default on GPUs that have it.
            config = BuilderConfig()
            config.set_flag(BuilderFlag.TF32)
            return config

        def create_optimization_profile(self):
            return OptimizationProfile()

        def build_serialized_network(self, network, config):
            monitor = config.progress_monitor
            if monitor is not None:
                monitor.phase_start('Building engine', None, 2)
            shapes = {}
            for profile in config.profiles:
                shapes.update(profile.shapes)
            for tensor in network.inputs:
                if -1 not in tensor.shape:
                    continue
                if tensor.name not in shapes:
                    return None    # TensorRT: "Network has dynamic or shape inputs, but no
                    #                optimization profile has been defined."
                for bound in shapes[tensor.name]:
                    if len(bound) != len(tensor.shape) or any(
                            fixed not in (-1, size) for fixed, size in zip(tensor.shape, bound)):
                        return None
            if monitor is not None:
                monitor.step_complete('Building engine', 1)
                monitor.phase_finish('Building engine')
            trt.builds += 1
            names = {int(value): name for name, value in flags.items()}
            engine = {
                'format': _FORMAT, 'version': version,
                'flags': sorted(names[flag] for flag in config.flags),
                'profiles': shapes,
                'tensors': [[t.name, 'INPUT', list(t.shape), t.dtype.name]
                            for t in network.inputs]
                + [[t.name, 'OUTPUT', list(t.shape), t.dtype.name] for t in network.outputs],
            }
            return json.dumps(engine).encode()

    class Engine:
        def __init__(self, description):
            self.description = description
            self.tensors = {name: (mode, shape, dtypes[dtype])
                            for name, mode, shape, dtype in description['tensors']}
            self.names = [name for name, *_ in description['tensors']]

        @property
        def num_io_tensors(self):
            return len(self.names)

        def get_tensor_name(self, index):
            return self.names[index]

        def get_tensor_mode(self, name):
            return self.tensors[name][0]

        def get_tensor_shape(self, name):
            return tuple(self.tensors[name][1])

        def get_tensor_dtype(self, name):
            return self.tensors[name][2]

        def create_execution_context(self):
            return types.SimpleNamespace(engine=self)

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            try:
                description = json.loads(bytes(data).decode())
            except (UnicodeDecodeError, ValueError):
                return None      # TensorRT: "Serialization assertion ... failed"
            if not isinstance(description, dict) or description.get('format') != _FORMAT:
                return None
            if description.get('version') != version:
                return None      # TensorRT: "The engine plan file is not compatible"
            return Engine(description)

    class IProgressMonitor:
        def __init__(self):
            pass

    for name, value in dict(locals()).items():
        if isinstance(value, type) and not name.startswith('_'):
            setattr(trt, name, value)
    return trt
