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
wilor-download against a local HTTP server on 127.0.0.1 serving the fixture weights.

The server supports ``Range`` requests and can misbehave on purpose: close the connection
mid-file, announce more bytes than it sends, or serve damaged content.
"""

import http.server
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading

from fixture_paths import DETECTOR, RECONSTRUCTOR
import pytest

from wilor_ros import weights
from wilor_ros.tools import download


class WeightServer(http.server.ThreadingHTTPServer):
    """Serve ``files`` (URL path -> bytes) with Range support and scripted faults."""

    daemon_threads = True

    def __init__(self, files):
        """Listen on 127.0.0.1 (a free port) and serve ``files``."""
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files = dict(files)
        self.requests = []          # (path, Range header or None) per GET
        self.cut_after = {}         # path -> bytes sent before closing, used once
        self.overstate = {}         # path -> extra bytes announced in Content-Length
        self.ignore_range = False   # answer Range requests with the whole file (200)

    def handle_error(self, request, client_address):
        """Stay quiet: the client hanging up on a scripted fault is expected."""

    @property
    def base_url(self):
        """Folder URL holding the served files."""
        return f'http://127.0.0.1:{self.server_address[1]}/weights'


class _Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        """Keep the test output quiet."""
        pass

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        """Serve a file, honouring ``Range: bytes=N-`` and the scripted faults."""
        server = self.server
        server.requests.append((self.path, self.headers.get('Range')))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404, 'Not Found')
            return
        start = 0
        match = re.fullmatch(r'bytes=(\d+)-', self.headers.get('Range') or '')
        if match and not server.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header('Content-Range', f'bytes */{len(body)}')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(body) - 1}/{len(body)}')
        else:
            self.send_response(200)
        payload = body[start:]
        announced = len(payload) + server.overstate.get(self.path, 0)
        self.send_header('Content-Length', str(announced))
        self.send_header('Content-Type', 'application/octet-stream')
        self.end_headers()
        cut = server.cut_after.pop(self.path, None)
        if cut is not None:
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(payload)
        if announced != len(payload):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True


@pytest.fixture
def server(monkeypatch):
    """Run a server holding both fixture files under the official file names."""
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    monkeypatch.delenv('http_proxy', raising=False)
    monkeypatch.delenv('HTTP_PROXY', raising=False)
    for name in ('WILOR_ROS_BASE_URL', 'WILOR_ROS_DETECTOR_URL', 'WILOR_ROS_RECONSTRUCTOR_URL'):
        monkeypatch.delenv(name, raising=False)
    instance = WeightServer({
        '/weights/detector.pt': DETECTOR.read_bytes(),
        '/weights/wilor_final.ckpt': RECONSTRUCTOR.read_bytes(),
    })
    thread = threading.Thread(target=instance.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def run_download(capsys, *args):
    """Run wilor-download in this process; return (exit code, stderr text)."""
    code = download.main([*map(str, args), '--timeout', '10'])
    return code, capsys.readouterr().err


def test_full_download_and_test_load(server, tmp_path, capsys):
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 0, err
    assert (tmp_path / 'detector.pt').read_bytes() == DETECTOR.read_bytes()
    assert (tmp_path / 'wilor_final.ckpt').read_bytes() == RECONSTRUCTOR.read_bytes()
    assert not list(tmp_path.glob('*.part'))
    assert 'CC BY-NC-ND 4.0' in err and 'https://mano.is.tue.mpg.de' in err
    assert 'detector.pt' in err and '%' in err  # progress lines
    # A second run downloads nothing and does not repeat the licence notice.
    count = len(server.requests)
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 0 and len(server.requests) == count
    assert 'CC BY-NC-ND' not in err
    code, err = run_download(capsys, '--dir', tmp_path, '--check')
    assert code == 0 and err.count('OK') == 2


def test_resume_after_interrupted_transfer(server, tmp_path, capsys):
    full = RECONSTRUCTOR.read_bytes()
    server.cut_after['/weights/wilor_final.ckpt'] = len(full) // 2
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 1
    assert 'truncated transfer' in err and 'resume' in err
    part = tmp_path / 'wilor_final.ckpt.part'
    assert 0 < part.stat().st_size < len(full)
    assert not (tmp_path / 'wilor_final.ckpt').exists()
    have = part.stat().st_size

    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 0, err
    assert ('/weights/wilor_final.ckpt', f'bytes={have}-') in server.requests
    assert (tmp_path / 'wilor_final.ckpt').read_bytes() == full
    assert not part.exists()


def test_server_without_range_support_restarts_from_scratch(server, tmp_path, capsys):
    full = DETECTOR.read_bytes()
    (tmp_path / 'detector.pt.part').write_bytes(b'stale bytes of an older attempt')
    server.ignore_range = True
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 0, err
    assert ('/weights/detector.pt', 'bytes=31-') in server.requests
    assert (tmp_path / 'detector.pt').read_bytes() == full


def test_damaged_present_file_is_downloaded_again(server, tmp_path, capsys):
    (tmp_path / 'detector.pt').write_bytes(b'half a file')
    shutil.copy(RECONSTRUCTOR, tmp_path / 'wilor_final.ckpt')
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 0, err
    assert 'damaged' in err
    assert [path for path, _ in server.requests] == ['/weights/detector.pt']
    assert (tmp_path / 'detector.pt').read_bytes() == DETECTOR.read_bytes()


def test_announced_size_larger_than_sent_is_reported(server, tmp_path, capsys):
    server.overstate['/weights/detector.pt'] = 1000
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 1
    size = DETECTOR.stat().st_size
    assert f'received {size} of {size + 1000} bytes' in err
    assert not (tmp_path / 'detector.pt').exists()


def test_corrupt_file_fails_the_test_load(server, tmp_path, capsys):
    good = RECONSTRUCTOR.read_bytes()
    server.files['/weights/wilor_final.ckpt'] = good[:1000] + bytes(len(good) - 1000)
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 1
    assert 'failed the test load' in err and 'wilor_final.ckpt' in err
    assert not (tmp_path / 'wilor_final.ckpt').exists()
    assert not (tmp_path / 'wilor_final.ckpt.part').exists()
    assert (tmp_path / 'detector.pt').exists()  # the good file stays


def test_file_of_the_other_kind_is_rejected(server, tmp_path, capsys):
    server.files['/weights/wilor_final.ckpt'] = DETECTOR.read_bytes()
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 1
    assert 'not a WiLoR reconstructor' in err


def test_http_404_is_reported(server, tmp_path, capsys):
    code, err = run_download(capsys, '--dir', tmp_path,
                             '--base-url', server.base_url.replace('/weights', '/missing'))
    assert code == 1
    assert 'HTTP 404' in err and '/missing/detector.pt' in err
    assert not list(tmp_path.glob('*.pt*'))


def test_no_network_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    code, err = run_download(capsys, '--dir', tmp_path,
                             '--base-url', f'http://127.0.0.1:{port}/weights')
    assert code == 1
    assert 'cannot reach 127.0.0.1' in err and 'connection refused' in err
    assert 'No network?' in err


def test_disk_full_is_reported(server, tmp_path, capsys):
    if not os.path.exists('/dev/full'):
        pytest.skip('needs /dev/full to produce a real ENOSPC')
    # Writes to /dev/full fail with ENOSPC, exactly as on a full disk.
    (tmp_path / 'detector.pt.part').symlink_to('/dev/full')
    code, err = run_download(capsys, '--dir', tmp_path, '--base-url', server.base_url)
    assert code == 1
    assert 'disk full while writing' in err and 'detector.pt.part' in err


def test_check_reports_missing_and_invalid_files(tmp_path):
    shutil.copy(DETECTOR, tmp_path / 'wilor_final.ckpt')  # wrong kind under the right name
    env = dict(os.environ, WILOR_ROS_CACHE=str(tmp_path))
    result = subprocess.run([sys.executable, '-m', 'wilor_ros.tools.download', '--check'], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f'detector: MISSING {tmp_path / "detector.pt"}' in result.stderr
    assert 'reconstructor: INVALID' in result.stderr


def test_weight_urls_from_flags_and_environment(monkeypatch):
    monkeypatch.delenv('WILOR_ROS_BASE_URL', raising=False)
    monkeypatch.delenv('WILOR_ROS_DETECTOR_URL', raising=False)
    monkeypatch.delenv('WILOR_ROS_RECONSTRUCTOR_URL', raising=False)
    urls = weights.weight_urls()
    assert urls['detector'] == ('https://huggingface.co/spaces/rolpotamias/WiLoR/resolve/main/'
                                'pretrained_models/detector.pt')
    assert urls['reconstructor'].endswith('/pretrained_models/wilor_final.ckpt')
    monkeypatch.setenv('WILOR_ROS_BASE_URL', 'http://mirror/x/')
    monkeypatch.setenv('WILOR_ROS_RECONSTRUCTOR_URL', 'http://other/r.ckpt')
    urls = weights.weight_urls(detector_url='http://flag/d.pt')
    assert urls == {'detector': 'http://flag/d.pt', 'reconstructor': 'http://other/r.ckpt'}
    assert weights.weight_urls()['detector'] == 'http://mirror/x/detector.pt'


def test_default_weights_dir(monkeypatch, tmp_path):
    monkeypatch.setenv('WILOR_ROS_CACHE', str(tmp_path / 'c'))
    assert weights.default_weights_dir() == tmp_path / 'c'
    monkeypatch.delenv('WILOR_ROS_CACHE')
    assert weights.default_weights_dir() == pathlib.Path.home() / '.cache' / 'wilor_ros'
