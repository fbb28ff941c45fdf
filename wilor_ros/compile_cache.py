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
A persistent ``torch.compile`` cache, so that a second start does not compile again.

Two layers, both under ``$WILOR_ROS_CACHE/compile/`` (next to the weights, see
:func:`wilor_ros.weights.default_weights_dir`):

* inductor's own on-disk caches (FX graphs, AOTAutograd, autotuning, Triton kernels) live in
  ``compile/inductor`` instead of ``/tmp/torchinductor_$USER`` (which a reboot or a container
  restart wipes), unless the user chose a directory with ``TORCHINDUCTOR_CACHE_DIR``;
* after warm-up, the artifacts of everything compiled in this process
  (``torch.compiler.save_cache_artifacts``, the "mega-cache") are written to one file per key;
  the next start loads them (``torch.compiler.load_cache_artifacts``) before compiling, which
  fills inductor's caches even when its directory was wiped or belongs to someone else.

The key names what the compiled code depends on: torch (and CUDA) version, the device (GPU
name and compute capability), the precision, the models (file name, size and modification
time of the weights, or a caller's string) and the image size. Inductor checks its own hashes
on every entry too, so a stale entry is unused, never wrong. A file written atomically (temp
file, then rename) carries a header with its key and the SHA-256 of its payload: a corrupt,
truncated or foreign file gives one warning and is rebuilt; it never stops a start. Dynamo
still traces on every start (its graphs are not cached); what the cache removes is inductor's
code generation and compilation, the bulk of a cold start.
"""

import hashlib
import json
import os
import pathlib
import platform
import tempfile
import warnings

import torch

from wilor_ros.weights import default_weights_dir

__all__ = ['artifacts_supported', 'CompileCache', 'compile_cache_dir', 'compile_cache_key',
           'model_identity', 'use_persistent_inductor_cache']

# First line of every artifacts file; a new layout gets a new number.
MAGIC = b'wilor_ros compile cache 1\n'


def compile_cache_dir():
    """Return the compile cache directory: ``$WILOR_ROS_CACHE/compile`` (or the default's)."""
    return default_weights_dir() / 'compile'


def use_persistent_inductor_cache(directory=None):
    """
    Point inductor's on-disk caches at ``directory/inductor``; return the directory in use.

    ``directory``: default :func:`compile_cache_dir`. A ``TORCHINDUCTOR_CACHE_DIR`` the user
    set wins; inductor's own default (``/tmp/torchinductor_$USER``, which inductor writes into
    the environment once it has used it) does not count as the user's choice.
    """
    chosen = os.environ.get('TORCHINDUCTOR_CACHE_DIR')
    if chosen and os.path.abspath(chosen) != os.path.abspath(inductor_default_cache_dir()):
        return pathlib.Path(chosen)
    path = pathlib.Path(directory or compile_cache_dir()) / 'inductor'
    # Inductor reads the variable on each use (cache_dir()), so this applies from now on.
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = str(path)
    return path


def inductor_default_cache_dir():
    """Return inductor's own default cache directory (``/tmp/torchinductor_$USER``)."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:   # torch < 2.6 (JetPack 6's 2.5)
        from torch._inductor.runtime.runtime_utils import default_cache_dir
    return default_cache_dir()


def artifacts_supported():
    """
    Return True when torch saves and loads compile artifacts (the mega-cache, torch 2.7 on).

    Older releases (JetPack 6's torch 2.5) keep only inductor's own on-disk caches, which
    :func:`use_persistent_inductor_cache` still makes persistent.
    """
    compiler = torch.compiler
    return hasattr(compiler, 'save_cache_artifacts') and hasattr(compiler,
                                                                 'load_cache_artifacts')


def model_identity(path):
    """Identify a weights file cheaply: its name, size and modification time (no hashing)."""
    path = pathlib.Path(path)
    stat = path.stat()
    return f'{path.name}:{stat.st_size}:{stat.st_mtime_ns}'


def _device_identity(device):
    device = torch.device(device)
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return f'{torch.cuda.get_device_name(index)} sm_{major}{minor} cuda {torch.version.cuda}'
    return f'{device.type} {platform.machine()}'


def compile_cache_key(device, precision, models, image_hw, **extra):
    """
    Return the key of a compiled pipeline: a dict of what its compiled code depends on.

    ``models``: weights paths (identified by :func:`model_identity`) or strings naming
    models that have no file; ``image_hw``: the warm-up image size; ``extra``: further
    fields (e.g. the batch buckets).
    """
    return {'torch': torch.__version__, 'device': _device_identity(device),
            'precision': str(precision),
            'models': [model_identity(m) if isinstance(m, (str, pathlib.Path))
                       and pathlib.Path(m).is_file() else str(m) for m in models],
            'image_hw': [int(v) for v in image_hw],
            **dict(sorted(extra.items()))}


class CompileCache:
    """
    The artifacts file of one key in ``directory`` (default :func:`compile_cache_dir`).

    :meth:`load` before compiling, :meth:`save` after warm-up. Both return what they did
    (and never raise for a bad file or an unwritable directory: a warning, then the start
    goes on compiling normally).
    """

    def __init__(self, key, directory=None):
        """Name the file of ``key`` (a JSON-serialisable dict) in ``directory``."""
        self.key = key
        self.text = json.dumps(key, sort_keys=True)
        self.directory = pathlib.Path(directory or compile_cache_dir())
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:20]
        self.path = self.directory / f'artifacts-{digest}.bin'
        self.loaded = None  # number of artifacts loaded, None: nothing loaded
        self._loaded_keys = frozenset()

    def load(self):
        """
        Load the saved artifacts of this key into inductor's caches; return how many.

        Returns 0 when there is no file (a first start); a corrupt or foreign file gives one
        RuntimeWarning, is removed (the next :meth:`save` rebuilds it) and returns 0.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as error:
            return self._warn(f'cannot read {self.path} ({error})', remove=False)
        problem, payload = self._check(data)
        if problem:
            return self._warn(f'{self.path} is {problem}', remove=True)
        try:
            info = torch.compiler.load_cache_artifacts(payload)
        except Exception as error:  # noqa: B902 (torch's loaders raise anything)
            return self._warn(f'{self.path} could not be loaded ({type(error).__name__}: '
                              f'{error})', remove=True)
        if info is None:
            return self._warn(f'{self.path} holds no artifacts torch can read', remove=True)
        self._loaded_keys = _keys(info)
        self.loaded = len(self._loaded_keys)
        return self.loaded

    def save(self):
        """
        Write the artifacts compiled so far in this process; return how many (0: none).

        Written atomically (a temp file renamed over the old one), so a reader never sees half
        a file. Nothing is written when every artifact was among the loaded ones (a second
        start that compiled nothing new; the file keeps what it has).
        """
        try:
            saved = torch.compiler.save_cache_artifacts()
        except Exception as error:  # noqa: B902 (a failed save must not stop a start)
            self._warn(f'saving the compile cache failed ({type(error).__name__}: {error})',
                       remove=False)
            return 0
        if saved is None:
            return 0
        payload, info = saved
        keys = _keys(info)
        if keys <= self._loaded_keys:
            return 0
        header = MAGIC + self.text.encode() + b'\n' + hashlib.sha256(payload).hexdigest().encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=self.path.name, suffix='.tmp',
                                                 dir=self.directory)
            try:
                with os.fdopen(handle, 'wb') as stream:
                    stream.write(header + b'\n' + payload)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            self._warn(f'cannot write {self.path} ({error})', remove=False)
            return 0
        return len(keys)

    def _check(self, data):
        """Return (problem or '', payload) of a file's bytes."""
        if not data.startswith(MAGIC):
            return 'not a wilor_ros compile cache file', None
        lines = data[len(MAGIC):].split(b'\n', 2)
        if len(lines) != 3:
            return 'truncated', None
        text, digest, payload = lines
        if text.decode(errors='replace') != self.text:
            return 'for another key (another torch, device, precision or model)', None
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return 'corrupt (checksum mismatch)', None
        return '', payload

    def _warn(self, problem, remove):
        action = 'ignored and rebuilt after warm-up'
        if remove:
            try:
                self.path.unlink()
            except OSError:
                action = 'ignored'
        warnings.warn(f'compile cache: {problem}; {action} (compiling from scratch)',
                      RuntimeWarning, stacklevel=3)
        return 0


def _keys(info):
    """Return the (type, key) pairs of the artifacts in a torch ``CacheInfo``."""
    return frozenset((kind, key) for kind, keys in getattr(info, 'artifacts', {}).items()
                     for key in keys)
