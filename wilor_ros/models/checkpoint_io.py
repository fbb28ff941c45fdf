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
Load torch checkpoints written by ultralytics and Lightning without running their code.

The official ``detector.pt`` pickles a whole ultralytics ``PoseModel`` (with dill), and
``wilor_final.ckpt`` pickles a yacs ``CfgNode``. ``torch.load(weights_only=False)`` would import
those packages and execute whatever the pickle names. Here the pickle stream is read by an
unpickler that resolves only an explicit allowlist:

* tensor rebuilding (storages are read straight from the zip archive),
* a few inert builtins (``set``, ``OrderedDict``, ``torch.Size``, ``torch.device``, numpy scalars),
* class names under known model/config packages, which become :class:`PickledObject` containers:
  plain attribute holders that never run a method of the original class.

Any other global (``os.system``, ``subprocess.Popen``, ``builtins.eval`` ...) raises
:class:`CheckpointError` before it is resolved, so nothing outside the allowlist ever runs.
"""

import collections
import pickle
import zipfile

import numpy as np
import torch


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, of another kind, or asks for forbidden code."""


class PickledObject:
    """
    Inert stand-in for an instance of a pickled class (an nn.Module, a namespace, ...).

    ``cls_name`` is the dotted name of the original class and ``state`` the attribute dict the
    pickle restored (for an ``nn.Module``: ``_parameters``, ``_buffers``, ``_modules`` ...).
    """

    cls_name = ''

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = dict(kwargs)

    def __setstate__(self, state):
        # Pickle's BUILD calls this instead of updating __dict__, so the original class's
        # __setstate__ never runs; slot state (a (dict, slots) pair) is merged.
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        # NEWOBJ builds instances without __init__, so the attribute dict may not exist yet.
        own = self.__dict__.setdefault('state', {})
        if isinstance(state, dict):
            own.update(state)
        else:
            own['__state__'] = state

    def __getattr__(self, name):
        state = self.__dict__.get('state', {})
        if name in state:
            return state[name]
        raise AttributeError(f'{self.cls_name} has no attribute {name!r}')

    def __repr__(self):
        return f'PickledObject({self.cls_name})'


class PickledDict(dict):
    """Inert stand-in for a pickled ``dict`` subclass (yacs ``CfgNode``)."""

    cls_name = ''

    def __setstate__(self, state):
        self.state = state


class PickledAttribute:
    """Inert stand-in for ``getattr(PickledClass, name)`` (dill pickles bound methods so)."""

    def __init__(self, owner, name):
        self.owner = owner
        self.name = name


# Classes whose instances become inert containers. Prefixes cover the model and config
# packages the official files name; nothing under them is ever imported.
_CONTAINER_PREFIXES = (
    'torch.nn.modules.',
    'ultralytics.',
    'pathlib.',
    'argparse.Namespace',
    'types.SimpleNamespace',
    'omegaconf.',
    'pytorch_lightning.',
    'lightning.',
)
_DICT_CLASSES = ('yacs.config.CfgNode',)

_STORAGE_DTYPES = {
    'DoubleStorage': torch.float64,
    'FloatStorage': torch.float32,
    'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16,
    'LongStorage': torch.int64,
    'IntStorage': torch.int32,
    'ShortStorage': torch.int16,
    'CharStorage': torch.int8,
    'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool,
}

_SAFE_BUILTIN_TYPES = {
    'set': set, 'frozenset': frozenset, 'dict': dict, 'list': list, 'tuple': tuple,
    'slice': slice, 'complex': complex, 'int': int, 'float': float, 'str': str,
    'bytes': bytes, 'bool': bool,
}


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    tensor = torch.empty((0,), dtype=storage.dtype)
    tensor.set_(storage.untyped_storage(), storage_offset, size, stride)
    return tensor


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *state):
    return data


def _encode_latin1(text, encoding='latin1'):
    # numpy scalars pickled under protocol 2 carry their bytes as latin-1 text.
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError('only latin-1 text to bytes is allowed')
    return text.encode('latin1')


def _numpy_scalar(dtype, data):
    return np.frombuffer(data, dtype=dtype)[0].copy()


def _numpy_dtype(name, align=False, copy=False):
    return np.dtype(name)


def _load_builtin_type(name):
    if name not in _SAFE_BUILTIN_TYPES:
        raise pickle.UnpicklingError(f'builtin type {name!r} is not allowed')
    return _SAFE_BUILTIN_TYPES[name]


def _safe_getattr(owner, name):
    if isinstance(owner, type) and issubclass(owner, (PickledObject, PickledDict)):
        return PickledAttribute(owner, name)
    raise pickle.UnpicklingError('getattr is only allowed on inert pickled classes')


_ALLOWED_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch', 'Size'): torch.Size,
    ('torch', 'device'): torch.device,
    ('_codecs', 'encode'): _encode_latin1,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy', 'dtype'): _numpy_dtype,
    ('dill._dill', '_load_type'): _load_builtin_type,
    ('__builtin__', 'getattr'): _safe_getattr,
    ('builtins', 'getattr'): _safe_getattr,
}
for _name, _type in _SAFE_BUILTIN_TYPES.items():
    _ALLOWED_GLOBALS[('__builtin__', _name)] = _type
    _ALLOWED_GLOBALS[('builtins', _name)] = _type


class _StorageType:
    """Marker the pickle passes to persistent_load to say which dtype a storage holds."""

    def __init__(self, dtype):
        self.dtype = dtype


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for the ``data.pkl`` of a torch zip archive with an explicit allowlist."""

    def __init__(self, file, archive, prefix, source):
        super().__init__(file, encoding='latin1')
        self._archive = archive
        self._prefix = prefix
        self._source = source
        self._storages = {}
        self._classes = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        dotted = f'{module}.{name}'
        if dotted in _DICT_CLASSES or dotted.startswith(_CONTAINER_PREFIXES):
            return self._container_class(dotted)
        raise CheckpointError(
            f'{self._source}: the pickle asks for {dotted!r}, which is not on the allowlist of '
            'inert checkpoint contents; refusing to load it (nothing was executed)')

    def _container_class(self, dotted):
        if dotted not in self._classes:
            base = PickledDict if dotted in _DICT_CLASSES else PickledObject
            self._classes[dotted] = type(dotted.rsplit('.', 1)[-1], (base,),
                                         {'cls_name': dotted, '__module__': __name__})
        return self._classes[dotted]

    def _read_storage(self, name, size):
        # Straight into the tensor's buffer in chunks: reading the whole entry first would hold
        # every storage twice while loading.
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = 0
        try:
            with self._archive.open(name) as stream:
                while filled < size:
                    chunk = stream.read(min(_READ_CHUNK, size - filled))
                    if not chunk:
                        break
                    view[filled:filled + len(chunk)] = chunk
                    filled += len(chunk)
        except KeyError:
            raise CheckpointError(f'{self._source}: storage {name} is missing') from None
        if filled < size:
            raise CheckpointError(f'{self._source}: storage {name} is truncated')
        return buffer

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
            raise CheckpointError(f'{self._source}: unknown persistent id {pid!r}')
        _, storage_type, key, _location, numel = pid
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else storage_type
        if not isinstance(dtype, torch.dtype):
            raise CheckpointError(f'{self._source}: storage {key} has no tensor dtype')
        if key not in self._storages:
            name = f'{self._prefix}data/{key}'
            itemsize = torch.empty((), dtype=dtype).element_size()
            buffer = self._read_storage(name, numel * itemsize)
            flat = torch.frombuffer(buffer, dtype=dtype) if numel else torch.empty(0, dtype=dtype)
            self._storages[key] = flat
        return self._storages[key]


_READ_CHUNK = 1 << 24


def release_freed_memory():
    """
    Give freed heap memory back to the OS (glibc ``malloc_trim``); no-op elsewhere.

    Loading a checkpoint frees many large buffers that glibc keeps in the heap: without this the
    process keeps them resident after loading.
    """
    try:
        import ctypes

        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_checkpoint(path, *, kind='checkpoint'):
    """
    Read a ``torch.save`` zip archive without executing code outside the allowlist.

    ``kind`` names what the caller expected (e.g. ``'detector'``) for error messages. Returns the
    unpickled top-level object with tensors on the CPU.
    """
    source = f'{kind} file {path}'
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CheckpointError(f'{source} does not exist') from None
    except IsADirectoryError:
        raise CheckpointError(f'{source} is a directory, expected a torch checkpoint') from None
    except zipfile.BadZipFile:
        raise CheckpointError(
            f'{source} is not a torch zip checkpoint (truncated download, or another kind of '
            'file); expected a file written by torch.save') from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
        if not pickles:
            raise CheckpointError(f'{source} is a zip file but holds no torch data.pkl')
        prefix = pickles[0][:-len('data.pkl')]
        try:
            with archive.open(pickles[0]) as stream:
                return _RestrictedUnpickler(stream, archive, prefix, source).load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError,
                TypeError, KeyError, AttributeError, IndexError, RuntimeError) as error:
            raise CheckpointError(f'{source} could not be read: {error}') from None


def module_state_dict(module, prefix=''):
    """Flatten a pickled ``nn.Module`` container into ``state_dict()``-style dotted names."""
    result = collections.OrderedDict()
    state = module.state if isinstance(module, PickledObject) else {}
    non_persistent = state.get('_non_persistent_buffers_set') or set()
    for name, tensor in (state.get('_parameters') or {}).items():
        if tensor is not None:
            result[prefix + name] = tensor
    for name, tensor in (state.get('_buffers') or {}).items():
        if tensor is not None and name not in non_persistent:
            result[prefix + name] = tensor
    for name, child in (state.get('_modules') or {}).items():
        if child is not None:
            result.update(module_state_dict(child, f'{prefix}{name}.'))
    return result
