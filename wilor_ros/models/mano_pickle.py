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
Read the official MANO model pickle (``MANO_RIGHT.pkl``) without chumpy or scipy.

The MANO v1.2 files are Python-2 pickles that name numpy, chumpy and scipy classes. Loading them
with plain ``pickle.load`` would import chumpy (unmaintained, broken on current numpy) and run
whatever the file names. Here an unpickler maps exactly the seven globals the official file
uses to small local stand-ins and rejects every other global before it is resolved:

=======================================  =============================================
``numpy.core.multiarray._reconstruct``   :class:`_ArrayBuilder` (raw bytes -> ndarray)
``numpy.ndarray``                        marker type passed to ``_reconstruct``
``numpy.dtype``                          :class:`_DTypeBuilder` (numeric codes only)
``__builtin__.set``                      ``set`` (empty bookkeeping sets of chumpy)
``chumpy.ch.Ch``                         :class:`_ChumpyArray` (its ``x`` holds the values)
``chumpy.reordering.Select``             :class:`_ChumpySelect` (``a.x.ravel()[idxs]``)
``scipy.sparse.csc.csc_matrix``          :class:`_CscMatrix` (densified)
=======================================  =============================================

Strings are Python-2 byte strings, so the stream is decoded as latin-1 (raw array bytes
included, which the array stand-in encodes back to bytes).
"""

import pickle

import numpy as np


class MANOPickleError(ValueError):
    """The MANO model file is missing, damaged, or not a MANO pickle."""


class _NdarrayType:
    """Stand-in for the ``numpy.ndarray`` class object named as the array subtype."""


class _DTypeBuilder:
    """Stand-in for ``numpy.dtype(code, align, copy)`` plus its pickled byte-order state."""

    def __init__(self, code, align=0, copy=0):
        if not isinstance(code, str):
            raise pickle.UnpicklingError(f'dtype code {code!r} is not a string')
        self.code = code
        self.byte_order = '='

    def __setstate__(self, state):
        # numpy's dtype state: (version, byte order, subdtype, names, fields, ...).
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ('<', '>', '|', '='):
            self.byte_order = state[1]

    def dtype(self):
        """Return the numpy dtype; only plain numeric and boolean types are accepted."""
        try:
            dtype = np.dtype(self.code)
        except TypeError:
            raise pickle.UnpicklingError(f'unknown dtype code {self.code!r}') from None
        if dtype.kind not in 'biuf':
            raise pickle.UnpicklingError(f'dtype {dtype} is not a plain numeric type')
        return dtype.newbyteorder(self.byte_order) if self.byte_order in '<>' else dtype


class _ArrayBuilder:
    """Stand-in for ``_reconstruct(ndarray, shape, dtype)``; BUILD supplies shape and bytes."""

    def __init__(self, subtype, shape=(0,), dtype=None):
        if subtype is not _NdarrayType:
            raise pickle.UnpicklingError('only plain numpy arrays can be reconstructed')
        self.array = None

    def __setstate__(self, state):
        # numpy's ndarray state: ([version,] shape, dtype, is_fortran, raw bytes).
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4
                and isinstance(state[1], _DTypeBuilder)):
            raise pickle.UnpicklingError('unexpected numpy array state')
        shape, dtype, is_fortran, raw = state
        if isinstance(raw, str):
            raw = raw.encode('latin1')
        if not isinstance(raw, bytes):
            raise pickle.UnpicklingError('numpy array data is not a byte string')
        dtype = dtype.dtype()
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) != count * dtype.itemsize:
            raise pickle.UnpicklingError(
                f'array of shape {tuple(shape)} {dtype} has {len(raw)} bytes of data')
        flat = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder('='))
        self.array = flat.reshape(shape, order='F' if is_fortran else 'C')


class _PickledState:
    """Base of the inert stand-ins restored by NEWOBJ + BUILD: keeps the state dict."""

    def __init__(self, *args):
        self.state = {}

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f'{type(self).__name__} state is not a dict')
        self.state = state


class _ChumpyArray(_PickledState):
    """Stand-in for ``chumpy.ch.Ch``: a wrapped array in state ``x``."""

    def value(self):
        """Return the wrapped values as an ndarray."""
        return _to_array(self.state.get('x'), 'chumpy Ch.x')


class _ChumpySelect(_PickledState):
    """Stand-in for ``chumpy.reordering.Select``: flat selection of another chumpy value."""

    def value(self):
        """Return ``a.ravel()[idxs]`` reshaped to ``preferred_shape``."""
        source = _to_array(self.state.get('a'), 'chumpy Select.a')
        idxs = _to_array(self.state.get('idxs'), 'chumpy Select.idxs')
        shape = self.state.get('preferred_shape')
        values = source.ravel()[idxs.astype(np.int64)]
        return values.reshape(shape) if shape is not None else values


class _CscMatrix(_PickledState):
    """Stand-in for ``scipy.sparse.csc_matrix``: compressed sparse columns, densified."""

    def value(self):
        """Return the dense matrix."""
        rows, cols = self.state.get('_shape', (None, None))
        data = _to_array(self.state.get('data'), 'csc_matrix.data')
        indices = _to_array(self.state.get('indices'), 'csc_matrix.indices').astype(np.int64)
        indptr = _to_array(self.state.get('indptr'), 'csc_matrix.indptr').astype(np.int64)
        if rows is None or len(indptr) != cols + 1 or indptr[-1] != len(data):
            raise pickle.UnpicklingError('inconsistent csc_matrix')
        dense = np.zeros((rows, cols), dtype=data.dtype)
        columns = np.repeat(np.arange(cols), np.diff(indptr))
        # Duplicate entries add up, as in scipy's todense.
        np.add.at(dense, (indices, columns), data)
        return dense


def _to_array(value, what):
    if isinstance(value, _ArrayBuilder) and value.array is not None:
        return value.array
    if isinstance(value, (_ChumpyArray, _ChumpySelect, _CscMatrix)):
        return value.value()
    raise pickle.UnpicklingError(f'{what} is not an array')


_MANO_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): _ArrayBuilder,
    ('numpy', 'ndarray'): _NdarrayType,
    ('numpy', 'dtype'): _DTypeBuilder,
    ('__builtin__', 'set'): set,
    ('chumpy.ch', 'Ch'): _ChumpyArray,
    ('chumpy.reordering', 'Select'): _ChumpySelect,
    ('scipy.sparse.csc', 'csc_matrix'): _CscMatrix,
}


class _MANOUnpickler(pickle.Unpickler):
    """Unpickler resolving only the seven globals of the official MANO file."""

    def __init__(self, file, source):
        super().__init__(file, encoding='latin1')
        self._source = source

    def find_class(self, module, name):
        if (module, name) in _MANO_GLOBALS:
            return _MANO_GLOBALS[(module, name)]
        raise MANOPickleError(
            f'{self._source}: the pickle asks for {module}.{name}, which is not one of the '
            'numpy/chumpy/scipy classes of a MANO model file; refusing to load it (nothing '
            'was executed)')

    def persistent_load(self, pid):
        raise MANOPickleError(f'{self._source}: unexpected persistent id in a MANO pickle')


def load_mano_pickle(path):
    """
    Load a MANO model pickle as a dict of numpy arrays (and the strings it holds).

    chumpy values and the sparse joint regressor come back as dense float64 arrays. Raises
    :class:`MANOPickleError` naming the file for a missing or damaged file and for any global
    outside the official seven.
    """
    source = f'MANO model file {path}'
    try:
        with open(path, 'rb') as stream:
            data = _MANOUnpickler(stream, source).load()
    except MANOPickleError:
        raise
    except FileNotFoundError:
        raise MANOPickleError(f'{source} does not exist; expected the MANO_RIGHT.pkl '
                              'of MANO v1.2 (https://mano.is.tue.mpg.de)') from None
    except IsADirectoryError:
        raise MANOPickleError(f'{source} is a directory, expected MANO_RIGHT.pkl') from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
            AttributeError, IndexError, MemoryError, UnicodeError) as error:
        raise MANOPickleError(f'{source} is not a readable MANO pickle: {error}') from None
    if not isinstance(data, dict):
        raise MANOPickleError(f'{source} does not hold a dict of MANO arrays')
    result = {}
    try:
        for key, value in data.items():
            if isinstance(value, (_ArrayBuilder, _ChumpyArray, _ChumpySelect, _CscMatrix)):
                value = _to_array(value, key)
            result[key] = value
    except (pickle.UnpicklingError, ValueError, TypeError, IndexError) as error:
        raise MANOPickleError(f'{source}: damaged MANO entry: {error}') from None
    return result
