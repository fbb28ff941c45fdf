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
A simulated GPU for the CPU: tensors on ``cuda:0`` that compute on the CPU, every transfer logged.

:class:`SimulatedCuda` is a ``TorchFunctionMode``: inside it, a tensor created for, moved to or
computed from ``cuda:0`` reports ``device == cuda:0`` (``is_cuda``, ``get_device``), so every
GPU branch of the code under test is taken, while the values are computed on the CPU. Every
event that crosses the host-device boundary on a real GPU is logged, as a real GPU would
behave:

* ``h2d``: a host tensor copied to the device (``to``, ``cuda``, ``copy_``, ``tensor``/
  ``as_tensor`` of host data, indexing a device tensor with a host index). Non-blocking only
  when the source is pinned (``pin_memory=True``) and the copy asked for ``non_blocking``.
* ``d2h``: a device tensor copied to the host (``cpu``, ``to('cpu')``, ``copy_``); blocking.
* ``sync``: the host reads a device value (``item``, ``tolist``, ``bool``/``int``/``float``,
  printing) or an op whose output shape depends on device values (``nonzero``, boolean-mask
  indexing, ``masked_select``, ``unique``...); blocking.
* ``numpy``: ``numpy()`` / ``__array__`` of a device tensor: logged, then TypeError as on
  CUDA.
* ``mixed``: an op mixing device tensors with host tensors that are not 0-d: logged, then
  RuntimeError as on CUDA.

:meth:`SimulatedCuda.count_kernels` also counts kernel launches: the aten operators (as the
dispatcher runs them, below ``torch.nn.functional`` and composite decompositions) executed for a
torch call that reads or writes a device tensor, less views and allocations, which launch
nothing on a GPU. It approximates what a GPU would launch (a fused or cuBLAS kernel may be
several launches), which is enough to compare two versions of the same code.

Test-only code: it lives in test/, never in the package.
"""

import collections
import contextlib
import dataclasses
import traceback
from unittest import mock
import weakref

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

CUDA = torch.device('cuda', 0)
# Registry of simulated device tensors and pinned host tensors by identity. Module level, so
# tensors cached by the code under test (constants, anchors) stay on the device across tests.
_ON_DEVICE = {}
_PINNED = {}

_DATA_FACTORIES = {'tensor', 'as_tensor', 'asarray'}
_HOST_READS = {'item', 'tolist', '__bool__', '__int__', '__float__', '__index__',
               '__format__', '__repr__', '__str__'}
_DYNAMIC_SHAPES = {'nonzero', 'argwhere', 'masked_select', 'unique', 'unique_consecutive',
                   'repeat_interleave', 'nonzero_static'}
_INDEXING = {'__getitem__', '__setitem__', 'index_put_', 'index_put'}
# aten operators that allocate or describe memory without launching a kernel (views are found
# from their schemas: OpOverload.is_view).
_NO_KERNEL = {'empty', 'empty_strided', 'empty_like', 'resize_', 'lift_fresh', 'set_',
              '_unsafe_view', 'alias', 'detach'}


def _has(registry, tensor):
    ref = registry.get(id(tensor))
    return ref is not None and ref() is tensor


def _add(registry, tensor):
    registry[id(tensor)] = weakref.ref(tensor, lambda _, key=id(tensor): registry.pop(key, None))


def on_device(tensor):
    """Whether ``tensor`` is a simulated device tensor."""
    return isinstance(tensor, torch.Tensor) and _has(_ON_DEVICE, tensor)


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _is_cuda(device):
    if device is None:
        return False
    if isinstance(device, int):
        return True
    return torch.device(device).type == 'cuda'


@dataclasses.dataclass
class Event:
    """One host-device event: kind, the torch function, whether the host waits, where."""

    kind: str
    function: str
    blocking: bool
    where: str

    def __str__(self):
        return f'{self.kind} ({self.function}, {"blocking" if self.blocking else "async"}) ' \
               f'at {self.where}'


class KernelCount(TorchDispatchMode):
    """Kernel launches counted by :meth:`SimulatedCuda.count_kernels`: ``total`` and ``ops``."""

    def __init__(self):
        super().__init__()
        self.ops = collections.Counter()
        self.device_call = 0

    @property
    def total(self):
        """All kernel launches counted so far."""
        return sum(self.ops.values())

    def reset(self):
        """Forget the launches counted so far."""
        self.ops.clear()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if self.device_call and not func.is_view and name not in _NO_KERNEL \
                and not name.startswith(('is_', 'sym_')):
            self.ops[name] += 1
        return func(*args, **(kwargs or {}))


class SimulatedCuda(TorchFunctionMode):
    """Run torch code as if on ``cuda:0`` (computing on the CPU) and log transfers; see module."""

    def __init__(self):
        super().__init__()
        self.events = []
        self._patches = [mock.patch('torch.cuda._lazy_init', lambda: None)]
        self._kernels = None

    def __enter__(self):
        for patch in self._patches:
            patch.start()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            for patch in self._patches:
                patch.stop()

    def device_tensor(self, tensor):
        """Return a copy of a host tensor on the simulated device (no event logged)."""
        copy = tensor.detach().clone()
        _add(_ON_DEVICE, copy)
        return copy

    def blocking(self):
        """Return the blocking events so far."""
        return [event for event in self.events if event.blocking]

    def count(self, kind=None, blocking=None):
        """Count events of a kind (None: all), optionally only (non-)blocking ones."""
        return sum(1 for event in self.events if (kind is None or event.kind == kind)
                   and (blocking is None or event.blocking == blocking))

    def reset(self):
        """Forget the events logged so far."""
        self.events = []

    @contextlib.contextmanager
    def count_kernels(self):
        """Count kernel launches on the device inside the block; yield a :class:`KernelCount`."""
        counter = KernelCount()
        self._kernels = counter
        try:
            with counter:
                yield counter
        finally:
            self._kernels = None

    def _log(self, kind, function, blocking):
        frames = [frame for frame in traceback.extract_stack()
                  if 'wilor_ros' in frame.filename]
        where = (f'{frames[-1].filename.rsplit("/", 1)[-1]}:{frames[-1].lineno}'
                 if frames else '?')
        self.events.append(Event(kind, function, blocking, where))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, '__name__', repr(func))
        if name in ('__get__', '__set__'):
            return self._attribute(func, name, args)
        if name == '_parse_to':
            return func(*args, **kwargs)
        inputs = list(_tensors((args, kwargs)))
        device_in = any(on_device(t) for t in inputs)
        kernels = self._kernels
        if kernels is None:
            return self._function(func, name, args, kwargs, inputs, device_in)
        # The aten operators this call runs launch on the device when it touches the device.
        on_gpu = device_in or _is_cuda(kwargs.get('device')) or (
            name in ('to', 'cuda') and _is_cuda(_target(name, args[1:], kwargs)))
        kernels.device_call += on_gpu
        try:
            return self._function(func, name, args, kwargs, inputs, device_in)
        finally:
            kernels.device_call -= on_gpu

    def _function(self, func, name, args, kwargs, inputs, device_in):
        self_tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None

        if name in ('to', 'cuda', 'cpu') and self_tensor is not None:
            return self._move(func, name, self_tensor, args[1:], kwargs)
        if name == 'copy_' and self_tensor is not None:
            return self._copy(func, args, kwargs)
        if name in ('numpy', '__array__') and on_device(self_tensor):
            self._log('numpy', name, True)
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() "
                            'to copy the tensor to host memory first.')
        if name == 'is_pinned' and self_tensor is not None:
            return _has(_PINNED, self_tensor)
        if name == 'get_device' and on_device(self_tensor):
            return 0
        if name in _HOST_READS and on_device(self_tensor):
            self._log('sync', name, True)
            return func(*args, **kwargs)

        to_device = _is_cuda(kwargs.get('device'))
        if to_device:
            kwargs['device'] = 'cpu'
        pinned = bool(kwargs.pop('pin_memory', False))
        if to_device and name in _DATA_FACTORIES and not (args and on_device(args[0])):
            self._log('h2d', name, True)
        if device_in:
            if name in _DYNAMIC_SHAPES or (name == 'where' and len(args) == 1):
                self._log('sync', name, True)
            indices = list(_tensors(args[1:2]))
            if name in _INDEXING and any(t.dtype == torch.bool and on_device(t)
                                         for t in indices):
                self._log('sync', f'{name} (boolean mask)', True)
        host = [t for t in inputs if not on_device(t) and t.dim() > 0] if device_in else []
        if host and name in _INDEXING and any(not on_device(t) for t in _tensors(args[1:2])):
            self._log('h2d', f'{name} (host index)', True)
            host = []
        result = func(*args, **kwargs)
        if host and not to_device and (next(_tensors(result), None) is not None
                                       or name.endswith('_')):
            # Metadata queries (sizes, strides, layouts) may mix devices; computing ops not.
            self._log('mixed', name, True)
            raise RuntimeError(f'Expected all tensors to be on the same device, but found '
                               f'cuda:0 and cpu ({name})')
        if device_in or to_device:
            for tensor in _tensors(result):
                _add(_ON_DEVICE, tensor)
        if pinned:
            for tensor in _tensors(result):
                _add(_PINNED, tensor)
        return result

    def _attribute(self, func, name, args):
        attribute = func.__self__.__name__
        tensor = args[0]
        if name == '__get__' and on_device(tensor):
            if attribute == 'device':
                return CUDA
            if attribute == 'is_cuda':
                return True
            if attribute == 'is_cpu':
                return False
        if name == '__set__' and attribute == 'data' and on_device(args[1]):
            # nn.Module.to() swaps a parameter's data in place.
            result = func(*args)
            _add(_ON_DEVICE, tensor)
            return result
        return func(*args)

    def _move(self, func, name, tensor, args, kwargs):
        target, dtype, non_blocking = _parse_move(name, args, kwargs)
        source_on_device = on_device(tensor)
        moved = tensor.to(dtype=dtype) if dtype is not None else tensor
        if target is None:
            if moved is not tensor and source_on_device:
                _add(_ON_DEVICE, moved)
            return moved
        if _is_cuda(target):
            if source_on_device:
                return moved
            self._log('h2d', name, not (non_blocking and _has(_PINNED, tensor)))
            moved = moved.clone() if moved is tensor else moved
            _add(_ON_DEVICE, moved)
            return moved
        if source_on_device:
            self._log('d2h', name, True)
            return moved.clone() if moved is tensor else moved
        return moved

    def _copy(self, func, args, kwargs):
        target, source = args[0], args[1]
        non_blocking = kwargs.get('non_blocking', args[2] if len(args) > 2 else False)
        if on_device(target) and isinstance(source, torch.Tensor) and not on_device(source):
            self._log('h2d', 'copy_', not (non_blocking and _has(_PINNED, source)))
        elif not on_device(target) and on_device(source):
            self._log('d2h', 'copy_', True)
        return func(*args, **kwargs)


def _parse_move(name, args, kwargs):
    # (target device, dtype, non_blocking) of a to() / cuda() / cpu() call.
    if name == 'cuda':
        return CUDA, None, kwargs.get('non_blocking', False)
    if name == 'cpu':
        return torch.device('cpu'), None, False
    target, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
    return target, dtype, non_blocking


def _target(name, args, kwargs):
    try:
        return _parse_move(name, args, kwargs)[0]
    except (TypeError, RuntimeError):
        return None
