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
Where exported networks and built engines are kept, and how a stale or broken one is told.

Everything lives under ``$WILOR_ROS_CACHE/engines`` (default ``~/.cache/wilor_ros/engines``,
beside the weights of :mod:`wilor_ros.weights`): ``onnx/`` for the exports, ``tensorrt/<gpu>/``
for engines. Each entry is a set of files plus a JSON sidecar (``NAME.json``) holding the key
it was made for (weights hash, versions, shapes, precision) and the size of every file. An
entry is used only when its sidecar's key equals the wanted key and every file has its recorded
size; anything else (a truncated file, a file of other weights or versions, a missing or
unreadable sidecar) is one line on stderr and the entry is made again. Files are written under
a temporary name and renamed, so an interrupted export leaves nothing that looks complete.
Engines are made on the user's machine only: the WiLoR weights are CC BY-NC-ND.
"""

import hashlib
import json
import os
import pathlib
import shutil
import sys
import time

from wilor_ros.backends import BackendError
from wilor_ros.weights import default_weights_dir

# Bump when the exported graphs change meaning (inputs, outputs, what they compute), so older
# cached exports stop matching.
EXPORT_FORMAT = 1
_HASH_CHUNK = 1 << 24
_HASHES_FILE = 'weights_hashes.json'


def engines_dir(root=None):
    """Return the engine cache folder: ``root`` or ``$WILOR_ROS_CACHE/engines``."""
    return pathlib.Path(root).expanduser() if root else default_weights_dir() / 'engines'


def say(line):
    """Print one progress or warning line of the backends on stderr."""
    print(f'[wilor_ros] {line}', file=sys.stderr, flush=True)


def weights_hash(path, cache_root=None):
    """
    Return the SHA-256 of a weights file (hex), remembered by path, size and mtime.

    The first call reads the whole file (the 2.4 GB checkpoint: a few seconds); later calls
    read a small table in the cache folder, so a cached engine loads without re-hashing.
    """
    path = pathlib.Path(path).expanduser().resolve()
    stat = path.stat()
    table_path = engines_dir(cache_root) / _HASHES_FILE
    table = _read_json(table_path) or {}
    known = table.get(str(path))
    if known and known.get('size') == stat.st_size and known.get('mtime_ns') == stat.st_mtime_ns:
        return known['sha256']
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(_HASH_CHUNK), b''):
            digest.update(chunk)
    table[str(path)] = {'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns,
                        'sha256': digest.hexdigest()}
    _write_json(table_path, table)
    return digest.hexdigest()


def key_digest(key):
    """Return a short, stable hex digest of a key dict (part of file names)."""
    text = json.dumps(key, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class CacheEntry:
    """
    One cached export or engine: ``folder / stem`` plus suffixes, described by ``key``.

    ``path(suffix)`` names a file of it; :meth:`check` says why it cannot be used (or None);
    :meth:`commit` records the files once written; :meth:`discard` removes them.
    """

    def __init__(self, folder, stem, key, what):
        self.folder = pathlib.Path(folder)
        self.stem = f'{stem}-{key_digest(key)}'
        self.key = dict(key)
        self.what = what
        self.sidecar = self.folder / f'{self.stem}.json'

    def path(self, suffix):
        """Return the path of this entry's file with ``suffix`` (e.g. '.onnx')."""
        return self.folder / f'{self.stem}{suffix}'

    def temporary(self, suffix):
        """
        Return where to write a file of this entry before :meth:`commit` moves it into place.

        A private folder with the final file name: an ONNX graph names its external data file,
        so the names must not change when the files move.
        """
        folder = self.folder / f'.{self.stem}.{os.getpid()}.tmp'
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f'{self.stem}{suffix}'

    def info(self):
        """Return the sidecar's ``info`` dict (what the maker stored), or {}."""
        return (_read_json(self.sidecar) or {}).get('info', {})

    def check(self):
        """Return None when the entry is complete and made for ``key``, else the reason."""
        if not self.sidecar.exists():
            return 'missing'
        record = _read_json(self.sidecar)
        if record is None:
            return f'its description {self.sidecar.name} is unreadable'
        if record.get('key') != self.key:
            changed = sorted(name for name in set(self.key) | set(record.get('key') or {})
                             if (record.get('key') or {}).get(name) != self.key.get(name))
            return f'made for other {", ".join(changed)}'
        for name, size in (record.get('files') or {}).items():
            path = self.folder / name
            if not path.is_file():
                return f'{name} is missing'
            if path.stat().st_size != size:
                return (f'{name} has {path.stat().st_size} bytes instead of {size} '
                        '(truncated or replaced)')
        return None

    def commit(self, info=None):
        """Move every file written to :meth:`temporary` into place; write the sidecar."""
        folder = self.folder / f'.{self.stem}.{os.getpid()}.tmp'
        files = {}
        for temporary in sorted(folder.iterdir()):
            final = self.folder / temporary.name
            os.replace(temporary, final)
            files[final.name] = final.stat().st_size
        folder.rmdir()
        _write_json(self.sidecar, {'key': self.key, 'files': files, 'info': info or {},
                                   'created': time.strftime('%Y-%m-%d %H:%M:%S')})

    def discard(self):
        """Remove the entry's files and unfinished writes (a stale or broken entry)."""
        for path in self.folder.glob(f'{self.stem}*'):
            path.unlink(missing_ok=True)
        self.abandon()

    def abandon(self):
        """Remove what this process wrote to :meth:`temporary` and did not commit."""
        shutil.rmtree(self.folder / f'.{self.stem}.{os.getpid()}.tmp', ignore_errors=True)

    def refuse(self, reason):
        """Say in one line that the cached entry cannot be used and will be made again."""
        say(f'cached {self.what} {self.path("")} is unusable ({reason}); making it again')
        self.discard()


def _read_json(path):
    try:
        with open(path, encoding='utf-8') as stream:
            value = json.load(stream)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def _write_json(path, value):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    with open(temporary, 'w', encoding='utf-8') as stream:
        json.dump(value, stream, indent=1, sort_keys=True)
    os.replace(temporary, path)


def open_with_rebuild(make_entry, opener, what):
    """
    Open a cached entry with ``opener(entry)``, making it again once when that fails.

    ``make_entry()`` returns a usable entry (made if needed). A file that passes the cache's
    checks but that the runtime cannot read (corrupt content, another key inside, an engine
    of another TensorRT) is one line and a new entry; a second failure raises. Returns
    (opened, entry).
    """
    entry = make_entry()
    try:
        return opener(entry), entry
    except BackendError:
        raise
    except Exception as error:  # noqa: B902 (runtimes' errors have no common base)
        # The first line of the message; an exception without one is named by its type.
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        entry.refuse(f'{what}: {first[:200]}')
    entry = make_entry()
    return opener(entry), entry
