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
The main command, scripts/run.sh, end to end with the fixture weights (``pytest -m run_script``).

Each test runs the script as a user would, from another folder, with a video made here with
OpenCV, and checks what the user sees: the exit status, the messages, the overlay video, and
that no process is left behind. Every process the script starts inherits a token in its
environment, which is how leftovers are found.
"""

import os
import pathlib
import signal
import subprocess
import time
import uuid

import cv2
from fixture_paths import DETECTOR, FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
from ros_harness import REPO, ros_env

pytestmark = [pytest.mark.run_script, pytest.mark.ros]
RUN = REPO / 'scripts' / 'run.sh'
# The frame index is written into each frame as the grey level of a corner block (no hand
# there), so the overlay shows which frames it holds and in which order.
BLOCK, LEVEL_STEP, FIRST_LEVEL = 48, 5, 20


def write_clip(path, frames, fps):
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
    for index in range(frames):
        frame = image.copy()
        frame[-BLOCK:, -BLOCK:] = FIRST_LEVEL + LEVEL_STEP * (index % 40)
        writer.write(frame)
    writer.release()
    return path


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    levels = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        levels.append(float(frame[-BLOCK + 8:-8, -BLOCK + 8:-8].mean()))
    capture.release()
    return fps, levels


def environment(token, **extra):
    env = ros_env(WILOR_RUN_TEST_TOKEN=token, WILOR_DEVICE='cpu', **extra)
    env.setdefault('WILOR_DETECTOR', str(DETECTOR))
    env.setdefault('WILOR_RECONSTRUCTOR', str(RECONSTRUCTOR))
    return env


def processes_with(token, pids=False):
    """Return the command lines (or pids) of running processes with ``token`` in their env."""
    found = []
    for entry in pathlib.Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f'WILOR_RUN_TEST_TOKEN={token}'.encode() in (entry / 'environ').read_bytes():
                state = (entry / 'stat').read_text().rsplit(')', 1)[1].split()[0]
                if state != 'Z':
                    found.append(int(entry.name) if pids else
                                 (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode())
        except OSError:
            continue
    return found


@pytest.fixture
def token():
    """
    Mark one test's processes; whatever still carries the mark is killed afterwards.

    The nodes run in sessions of their own, so a failed test could leave them running, to
    answer a later test in the same ROS domain.
    """
    value = uuid.uuid4().hex
    yield value
    for pid in processes_with(value, pids=True):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def assert_nothing_left(token):
    deadline = time.monotonic() + 3.0
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(token) == []


def test_a_missing_source_fails_fast_with_one_clear_line(tmp_path, token):
    start = time.monotonic()
    # Relative to the caller's folder, not to the repository.
    result = subprocess.run(['bash', str(RUN), 'no/such.mp4', 'out.mp4'], cwd=tmp_path,
                            env=environment(token), capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < 30, elapsed
    errors = [line for line in result.stderr.splitlines() if 'error' in line.lower()]
    assert errors == [f'[run] error: cannot open the source: input {tmp_path}/no/such.mp4 does '
                      'not exist (expected an image, a folder of images, a video file, an '
                      '.mcap bag or a webcam /dev/videoN)'], result.stderr
    assert 'Traceback' not in result.stdout + result.stderr
    assert not (tmp_path / 'out.mp4').exists()
    assert_nothing_left(token)


def test_a_video_gives_every_frame_at_its_own_rate(tmp_path, token):
    write_clip(tmp_path / 'clip.mp4', frames=40, fps=10.0)
    result = subprocess.run(['bash', str(RUN), 'clip.mp4', 'overlay/out.mp4'], cwd=tmp_path,
                            env=environment(token), capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert 'Traceback' not in output
    assert '[overlay] 40 frame(s) written to ' in output, output
    fps, levels = read_video(tmp_path / 'overlay' / 'out.mp4')
    assert fps == pytest.approx(10.0) and len(levels) == 40, output
    # Every frame, once, in order: each corner block is one step brighter than the last (two
    # mp4 encodings shift the grey levels by a few units; a missing or repeated frame would
    # show as a step of 10 or 0).
    np.testing.assert_allclose(np.diff(levels), LEVEL_STEP, atol=2.5)
    assert levels[0] == pytest.approx(FIRST_LEVEL, abs=8.0)
    # The overlay is drawn: the hands the node found are in the video, not the bare input.
    assert sum('hand(s)' in line for line in result.stdout.splitlines()) >= 40
    assert_nothing_left(token)


def test_sigterm_from_timeout_leaves_no_process_behind(tmp_path, token):
    # Long enough to be still running when timeout sends SIGTERM.
    write_clip(tmp_path / 'clip.mp4', frames=400, fps=10.0)
    start = time.monotonic()
    result = subprocess.run(['timeout', '-s', 'TERM', '20', 'bash', str(RUN), 'clip.mp4',
                             'out.mp4'], cwd=tmp_path, env=environment(token),
                            capture_output=True, text=True, timeout=90)
    elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode == 124, output   # timeout's status: the script was stopped
    assert elapsed < 20 + 10, output
    assert 'Traceback' not in output
    assert_nothing_left(token)


def test_ctrl_c_stops_everything_cleanly(tmp_path, token):
    write_clip(tmp_path / 'clip.mp4', frames=400, fps=10.0)
    # A terminal's Ctrl-C sends SIGINT to the foreground process group: the script's.
    # A terminal's shell does not ignore SIGINT, but pytest may have been started by one that
    # does (a background job of a script ignores it, and bash cannot trap a signal ignored at
    # its start): the script starts as from a terminal.
    process = subprocess.Popen(['bash', str(RUN), 'clip.mp4', 'out.mp4'], cwd=tmp_path,
                               env=environment(token), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        for line in process.stdout:   # wait until frames are being recorded
            lines.append(line)
            if sum(text[:1].isdigit() and 'hand(s)' in text for text in lines) >= 8:
                break
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = ''.join(lines) + rest
    assert process.returncode == 130, output
    assert 'Traceback' not in output
    # The overlay written so far is a finished, readable video.
    fps, levels = read_video(tmp_path / 'out.mp4')
    assert fps == pytest.approx(10.0) and len(levels) >= 6, output
    assert_nothing_left(token)
