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
Fetch the official WiLoR weights (``wilor-download``).

The hand detector ``detector.pt`` and the reconstructor ``wilor_final.ckpt`` are published in
the Hugging Face space ``rolpotamias/WiLoR`` (folder ``pretrained_models/``). They are fetched
with urllib into the cache directory (:func:`default_weights_dir`): the bytes go to
``NAME.part`` first, an interrupted transfer resumes from there with an HTTP ``Range`` request,
the size is checked against the server's ``Content-Length`` / ``Content-Range``, the file is
test-loaded with the safe checkpoint reader, and only then renamed (atomically) to ``NAME``.
"""

import argparse
import errno
import http.client
import os
import pathlib
import shutil
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint
from wilor_ros.tools import interrupt_on_sigterm
from wilor_ros.tools.progress import megabytes, ProgressBar
from wilor_ros.weights import (default_weight_paths, default_weights_dir, LICENCE_NOTICE,
                               WEIGHT_KINDS, weight_urls)

_NOTICE_MARKER = '.licence_notice_shown'

_CHUNK_BYTES = 1 << 20
_USER_AGENT = 'wilor_ros-download/0.1 (urllib)'


class DownloadError(RuntimeError):
    """A weight file could not be fetched or verified; the message says why and what to do."""


def show_licence_notice(directory, stream=None):
    """Print the licence notice unless a marker in ``directory`` says it was shown already."""
    stream = stream or sys.stderr
    marker = pathlib.Path(directory) / _NOTICE_MARKER
    if marker.exists():
        return False
    print(LICENCE_NOTICE, file=stream, flush=True)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text('The WiLoR / MANO licence notice was shown.\n')
    except OSError:
        pass  # A read-only cache only means the notice shows again next time.
    return True


def _network_error(url, error):
    """Turn a urllib / socket failure into a DownloadError that says what to do."""
    if isinstance(error, urllib.error.HTTPError):
        if error.code == 404:
            return DownloadError(
                f'HTTP 404 Not Found: {url}\nThe file is not at this address; check '
                '--base-url / --detector-url / --reconstructor-url (or WILOR_ROS_*_URL).')
        return DownloadError(f'HTTP {error.code} {error.reason}: {url}')
    reason = getattr(error, 'reason', error)
    host = urllib.parse.urlsplit(url).netloc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        what = 'timed out'
    elif isinstance(reason, ConnectionRefusedError):
        what = 'connection refused'
    elif isinstance(reason, socket.gaierror):
        what = f'host name lookup failed ({reason})'
    else:
        what = str(reason)
    return DownloadError(
        f'cannot reach {host} ({what}) for {url}.\nNo network? Fetch the file on a machine '
        'with network access and copy it into the weight directory, or point --base-url at a '
        'mirror.')


def _disk_full(path, error):
    return DownloadError(
        f'disk full while writing {path} ({error.strerror}). Free some space (or set '
        'WILOR_ROS_CACHE / --dir to another disk) and run again: the download resumes.')


def _parse_content_range(value):
    """Return (start, total) from ``bytes START-END/TOTAL`` (total None when ``*``)."""
    try:
        unit, spec = value.strip().split(' ', 1)
        span, total = spec.split('/', 1)
        start = None if span == '*' else int(span.split('-', 1)[0])
        return start, (None if total == '*' else int(total))
    except ValueError:
        raise DownloadError(f'the server sent a malformed Content-Range: {value!r}') from None


def download_file(url, destination, *, verify=None, stream=None, progress=True, timeout=30.0):
    """
    Download ``url`` to ``destination`` through ``destination.part``, resuming a previous part.

    Returns the total number of bytes. The ``.part`` file is kept when the transfer breaks
    off (the next call resumes it). Once its size matches what the server announced,
    ``verify(part_path)`` (if given) checks the content (a failure deletes the part, which no
    resume could repair) and the part is renamed atomically to ``destination``. Raises
    :class:`DownloadError` with a clear message.
    """
    stream = stream or sys.stderr
    destination = pathlib.Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + '.part')
    have = part.stat().st_size if part.exists() else 0
    headers = {'User-Agent': _USER_AGENT}
    if have:
        headers['Range'] = f'bytes={have}-'
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:
            # Range not satisfiable: the part is already complete, or longer than the file.
            _, total = _parse_content_range(error.headers.get('Content-Range', 'bytes */*'))
            error.close()
            if total == have:
                _finish(part, destination, verify)
                return have
            part.unlink()
            return download_file(url, destination, verify=verify, stream=stream,
                                 progress=progress, timeout=timeout)
        raise _network_error(url, error) from None
    except (urllib.error.URLError, OSError) as error:
        raise _network_error(url, error) from None

    with response:
        length = response.headers.get('Content-Length')
        length = int(length) if length and length.isdigit() else None
        if response.status == 206:
            start, total = _parse_content_range(response.headers.get('Content-Range', ''))
            if start != have:
                raise DownloadError(f'{url}: asked to resume at byte {have}, the server sent '
                                    f'bytes from {start}; delete {part} and run again')
            mode = 'ab'
            print(f'resuming {destination.name} at {megabytes(have)}', file=stream)
        else:
            # 200: a fresh transfer (also when the server ignores the Range header).
            total, have, mode = length, 0, 'wb'
        if total is not None:
            try:
                free = shutil.disk_usage(destination.parent).free
            except OSError:
                free = None
            if free is not None and free < total - have:
                raise DownloadError(
                    f'not enough disk space for {destination}: {megabytes(total - have)} '
                    f'needed, {megabytes(free)} free in {destination.parent}')
        bar = ProgressBar(destination.name, total, have, stream) if progress else None
        try:
            output = open(part, mode)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise _disk_full(part, error) from None
            raise DownloadError(f'cannot write {part}: {error}') from None
        with output:
            while True:
                try:
                    chunk = response.read(_CHUNK_BYTES)
                except http.client.IncompleteRead as error:
                    chunk, broken = error.partial, error
                except (OSError, http.client.HTTPException) as error:
                    chunk, broken = b'', error
                else:
                    broken = None
                if chunk:
                    try:
                        output.write(chunk)
                    except OSError as error:
                        if error.errno == errno.ENOSPC:
                            raise _disk_full(part, error) from None
                        raise DownloadError(f'cannot write {part}: {error}') from None
                    have += len(chunk)
                    if bar:
                        bar.update(len(chunk))
                if broken is not None or not chunk:
                    break
            try:
                output.flush()
                os.fsync(output.fileno())
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    raise _disk_full(part, error) from None
                raise
        if bar:
            bar.close()
    if total is not None and have != total:
        detail = f' ({broken})' if broken is not None else ''
        raise DownloadError(
            f'truncated transfer of {url}: received {have} of {total} bytes{detail}. '
            f'The partial file {part} is kept; run again to resume.')
    if broken is not None:
        raise DownloadError(f'the transfer of {url} broke off after {have} bytes ({broken}); '
                            f'run again to resume from {part}')
    _finish(part, destination, verify)
    return have


def _finish(part, destination, verify):
    if verify is not None:
        try:
            verify(part)
        except Exception:
            part.unlink()
            raise
    os.replace(part, destination)


def verify_weights(path, key):
    """
    Test-load a weight file and check that it is the expected kind; raise DownloadError.

    The detector must be a checkpoint with a ``model`` entry, the reconstructor one with a
    ``state_dict`` holding ``backbone.`` tensors. The models are not built here.
    """
    _, kind = WEIGHT_KINDS[key]
    try:
        content = load_checkpoint(path, kind=kind)
    except CheckpointError as error:
        raise DownloadError(f'the {key} file failed the test load: {error}') from None
    if key == 'detector':
        if not isinstance(content, dict) or content.get('model') is None:
            raise DownloadError(f'{path} is a torch checkpoint but not a hand detector: expected '
                                'an ultralytics checkpoint with a "model" entry')
    else:
        state = content.get('state_dict') if isinstance(content, dict) else None
        if not isinstance(state, dict) or not any(k.startswith('backbone.') for k in state):
            raise DownloadError(f'{path} is a torch checkpoint but not a WiLoR reconstructor: '
                                'expected a "state_dict" with "backbone." weights')


def _looks_complete(path):
    """Quick check of a present file: a readable zip archive (no full test load)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith('data.pkl') for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def ensure_weights(directory=None, *, force=False, base_url=None, detector_url=None,
                   reconstructor_url=None, stream=None, progress=True, timeout=30.0):
    """
    Make sure both weight files are in ``directory``; download what is missing.

    Returns ``{'detector': PATH, 'reconstructor': PATH}``. Present files are kept (after a
    quick zip check) unless ``force``; downloaded files are test-loaded before they are put in
    place. Raises :class:`DownloadError`.
    """
    stream = stream or sys.stderr
    directory = pathlib.Path(directory) if directory else default_weights_dir()
    urls = weight_urls(base_url, detector_url, reconstructor_url)
    paths = default_weight_paths(directory)
    for key, path in paths.items():
        if path.exists() and not force:
            if _looks_complete(path):
                print(f'{key}: {path} is present', file=stream)
                continue
            print(f'{key}: {path} is damaged; downloading it again', file=stream)
        show_licence_notice(directory, stream)
        part = path.with_name(path.name + '.part')
        if force and part.exists():
            part.unlink()
        print(f'{key}: downloading {urls[key]}', file=stream)
        download_file(urls[key], path, verify=lambda done, key=key: verify_weights(done, key),
                      stream=stream, progress=progress, timeout=timeout)
        print(f'{key}: saved and verified {path}', file=stream)
    return paths


def check_weights(directory=None, *, stream=None):
    """Test-load the files present in ``directory``; return True when both are valid."""
    stream = stream or sys.stderr
    ok = True
    for key, path in default_weight_paths(directory).items():
        if not path.exists():
            print(f'{key}: MISSING {path}', file=stream)
            ok = False
            continue
        try:
            verify_weights(path, key)
        except DownloadError as error:
            print(f'{key}: INVALID {error}', file=stream)
            ok = False
        else:
            print(f'{key}: OK {path}', file=stream)
    return ok


def build_parser():
    """Command-line interface of ``wilor-download``."""
    parser = argparse.ArgumentParser(
        prog='wilor-download',
        description='Download the official WiLoR weights (detector.pt, wilor_final.ckpt) into '
                    'the wilor_ros cache directory, resuming interrupted transfers.')
    parser.add_argument('--dir', type=pathlib.Path, default=None,
                        help='weight directory (default: $WILOR_ROS_CACHE or ~/.cache/wilor_ros)')
    parser.add_argument('--base-url', default=None,
                        help='folder URL holding both files (env WILOR_ROS_BASE_URL; default: '
                             'the rolpotamias/WiLoR Hugging Face space)')
    parser.add_argument('--detector-url', default=None,
                        help='URL of detector.pt (env WILOR_ROS_DETECTOR_URL)')
    parser.add_argument('--reconstructor-url', default=None,
                        help='URL of wilor_final.ckpt (env WILOR_ROS_RECONSTRUCTOR_URL)')
    parser.add_argument('--force', action='store_true',
                        help='download again even when the files are present')
    parser.add_argument('--check', action='store_true',
                        help='only test-load the files that are present (no network)')
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='network timeout in seconds (default: 30)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser


def main(argv=None):
    """Entry point of ``wilor-download``; returns the exit status."""
    interrupt_on_sigterm()
    args = build_parser().parse_args(argv)
    directory = args.dir or default_weights_dir()
    stream = sys.stderr
    if args.check:
        ok = check_weights(directory, stream=stream)
        if not ok:
            print(f'wilor-download: the weights in {directory} are incomplete; run '
                  'wilor-download to fetch them', file=stream)
        return 0 if ok else 1
    show_licence_notice(directory, stream)
    try:
        paths = ensure_weights(directory, force=args.force, base_url=args.base_url,
                               detector_url=args.detector_url,
                               reconstructor_url=args.reconstructor_url, stream=stream,
                               progress=not args.quiet, timeout=args.timeout)
    except DownloadError as error:
        print(f'wilor-download: error: {error}', file=stream)
        return 1
    except KeyboardInterrupt:
        print('wilor-download: interrupted; run again to resume', file=stream)
        return 130
    for key, path in paths.items():
        print(f'{key}={path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
