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
Broken weights files, as downloads and users produce them, for the start-up error tests.

:func:`write_bad_weights` writes one of :data:`BAD_WEIGHT_KINDS` for the detector or the
reconstructor, built from the fixture files: empty, cut short, the other network's file, an
HTML error page, a zip whose largest tensor is cut short (central directory intact), and a
pickle that would run a shell command if it were unpickled naively.

:func:`malicious_pickle` is that pickle on its own, for the tests of every reader of pickles
(checkpoints, MANO_RIGHT.pkl): unpickling it naively creates :func:`malicious_marker`'s file.
"""

import os
import pickle
import zipfile

from fixture_paths import DETECTOR, RECONSTRUCTOR

BAD_WEIGHT_KINDS = ('empty', 'truncated', 'foreign', 'html', 'short_tensor', 'malicious')


class _RunsACommand:
    """Unpickling this calls os.system (what a malicious checkpoint does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def malicious_pickle(directory, key=None):
    """
    Return pickle bytes that run ``touch`` on :func:`malicious_marker` when unpickled naively.

    With ``key`` the command sits under that key of a dict (``{'model': ...}`` as in a
    checkpoint, ``{'v_template': ...}`` as in a MANO pickle), so a reader meets the dict first.
    """
    payload = _RunsACommand(malicious_marker(directory))
    return pickle.dumps(payload if key is None else {key: payload}, protocol=2)


def write_torch_zip(path, pickle_bytes):
    """Write ``pickle_bytes`` as the data.pkl of a torch zip checkpoint at ``path``."""
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pickle_bytes)
        archive.writestr('archive/version', '3\n')


def write_bad_weights(directory, kind, network='reconstructor'):
    """Write a broken ``network`` weights file of ``kind`` in ``directory``; return its path."""
    real, other = ((RECONSTRUCTOR, DETECTOR) if network == 'reconstructor'
                   else (DETECTOR, RECONSTRUCTOR))
    path = directory / f'{kind}_{real.name}'
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated':
        path.write_bytes(real.read_bytes()[:real.stat().st_size // 2])
    elif kind == 'foreign':
        path.write_bytes(other.read_bytes())
    elif kind == 'html':
        path.write_bytes(b'<!DOCTYPE html><html><body>404 Not Found</body></html>\n')
    elif kind == 'short_tensor':
        with zipfile.ZipFile(real) as source, zipfile.ZipFile(path, 'w') as target:
            largest = max(source.infolist(), key=lambda info: info.file_size).filename
            for info in source.infolist():
                data = source.read(info.filename)
                target.writestr(info, data[:len(data) // 2] if info.filename == largest
                                else data)
    elif kind == 'malicious':
        write_torch_zip(path, malicious_pickle(directory))
    else:
        raise ValueError(f'unknown bad weights kind {kind}')
    return path


def malicious_marker(directory):
    """Return the file the malicious pickle would create if anything executed it."""
    return directory / 'pickle_code_was_executed'
