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
Run ROS 2 programs in child processes under the project's network rule.

Every process that starts DDS gets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (Kilted ignores
ROS_LOCALHOST_ONLY), its own ROS_DOMAIN_ID, ROS_LOG_DIR inside the work tree and the Fast DDS
profile with a large shared-memory segment, so no traffic leaves loopback and images arrive.
"""

import contextlib
import json
import os
import pathlib
import queue
import subprocess
import sys
import threading
import time

from fixture_paths import DETECTOR, RECONSTRUCTOR
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PROGRAMS = pathlib.Path(__file__).resolve().parent / 'ros_programs'

# Large best-effort samples (VGA images at 30 Hz, a 4K frame) get lost on ROS 2 Jazzy's
# rmw_fastrtps 8.4 / Fast DDS 2.14 under ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST: for LOCALHOST
# rmw appends its own default shared-memory transport (512 KiB segment) and UDP transport to the
# participant next to config/fastdds.xml's (rmw_fastrtps_shared_cpp/src/participant.cpp), and
# FASTDDS_BUILTIN_TRANSPORTS does not apply there (use_builtin_transports is false). Measured with
# the Jazzy wheels: 10-41 of 90 VGA frames at 30 Hz arrive best-effort, 90 of 90 reliable.
# scripts/test_jazzy.sh therefore sets
# * WILOR_TEST_IMAGE_QOS=reliable: the test cameras (ros_programs/image_qos.py) publish images
#   reliably and wilor_node subscribes with image_reliability:=reliable, so every node test runs;
# * WILOR_TEST_LARGE_BEST_EFFORT=lossy: the few tests of best-effort transport itself are
#   skipped, with that reason.
RELIABLE_IMAGES = os.environ.get('WILOR_TEST_IMAGE_QOS') == 'reliable'
LARGE_BEST_EFFORT_LOSSY = os.environ.get('WILOR_TEST_LARGE_BEST_EFFORT') == 'lossy'
needs_large_best_effort = pytest.mark.skipif(
    LARGE_BEST_EFFORT_LOSSY,
    reason='large best-effort images get lost on Jazzy rmw_fastrtps under LOCALHOST discovery '
           '(WILOR_TEST_LARGE_BEST_EFFORT=lossy; see test/ros_harness.py, docs/install.md)')


_next_domain = [None]


def unique_domain_id():
    """Return a ROS_DOMAIN_ID in 1..100 not used by another test of this run."""
    if _next_domain[0] is None:
        base = int(os.environ.get('WILOR_TEST_DOMAIN_BASE', str(1 + os.getpid() % 60)))
        _next_domain[0] = base
    domain = _next_domain[0]
    _next_domain[0] = 1 + (domain % 100)
    return domain


def ros_env(domain_id=None, **extra):
    """Environment for a child process that starts DDS (network rule applied)."""
    env = dict(os.environ)
    log_dir = REPO / 'log' / 'ros'
    log_dir.mkdir(parents=True, exist_ok=True)
    prefix = str(pathlib.Path(sys.prefix))
    env.update({
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
        'ROS_DOMAIN_ID': str(domain_id if domain_id is not None else unique_domain_id()),
        'ROS_LOG_DIR': str(log_dir),
        'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp',
        'FASTDDS_DEFAULT_PROFILES_FILE': str(REPO / 'config' / 'fastdds.xml'),
        'AMENT_PREFIX_PATH': env.get('AMENT_PREFIX_PATH') or prefix,
        'PYTHONUNBUFFERED': '1',
    })
    env.pop('ROS_LOCALHOST_ONLY', None)
    env.update({key: str(value) for key, value in extra.items()})
    return env


class RosProcess:
    """A child Python process whose stdout lines can be awaited with a timeout."""

    def __init__(self, args, env, cwd=REPO):
        self.args = [sys.executable, *[str(a) for a in args]]
        self.proc = subprocess.Popen(self.args, env=env, cwd=str(cwd), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def wait_for_line(self, predicate, timeout):
        """Return the first new stdout line satisfying predicate, or fail after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f'no matching line within {timeout} s; output:\n{self.output}')
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f'process exited ({self.proc.wait()}); output:\n{self.output}')
            if predicate(line):
                return line

    def wait_for_json(self, key, timeout):
        """Return the first stdout line that is a JSON object holding key, parsed."""
        line = self.wait_for_line(lambda text: text.startswith('{') and f'"{key}"' in text,
                                  timeout)
        return json.loads(line)

    @property
    def output(self):
        return '\n'.join(self.lines[-80:])

    def finish(self, timeout=20):
        """Wait for a normal exit and return the exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stop()

    def stop(self):
        """Interrupt (then kill) the process if it is still running."""
        if self.proc.poll() is None:
            self.proc.send_signal(subprocess.signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


class DrivenProcess(RosProcess):
    """A RosProcess that takes one JSON command per stdin line and answers {"reply": ...}."""

    def __init__(self, args, env, cwd=REPO):
        self.args = [sys.executable, *[str(a) for a in args]]
        self.proc = subprocess.Popen(self.args, env=env, cwd=str(cwd), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = []
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def send(self, cmd, **arguments):
        self.proc.stdin.write(json.dumps(dict(arguments, cmd=cmd)) + '\n')
        self.proc.stdin.flush()

    def reply(self, timeout=30.0):
        return self.wait_for_json('reply', timeout)['reply']

    def __call__(self, cmd, **arguments):
        self.send(cmd, **arguments)
        return self.reply(timeout=arguments.get('timeout', 10.0) + 20.0)

    def stop(self):
        """Ask the program to quit (a clean DDS shutdown), then interrupt it if needed."""
        if self.proc.poll() is None:
            try:
                self.send('quit')
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().stop()


def node_process(env, *arguments, autostart=True, reconstructor=RECONSTRUCTOR):
    """
    Start wilor_node with the fixture weights on CPU and extra ``--ros-args``.

    The detection threshold 0.25 finds the fixture detector's 8 hands on the fixture image.
    With ``autostart`` the node configures and activates itself; without, it waits for the
    lifecycle transitions. Under ``WILOR_TEST_IMAGE_QOS=reliable`` it subscribes to images
    reliably, as the test cameras then publish them.
    """
    if RELIABLE_IMAGES:
        arguments = ('-p', 'image_reliability:=reliable') + arguments
    return RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args',
                       '-p', f'autostart:={str(autostart).lower()}',
                       '-p', f'detector_path:={DETECTOR}',
                       '-p', f'reconstructor_path:={reconstructor}',
                       '-p', 'device:=cpu', '-p', 'detection.confidence:=0.25',
                       *arguments], env)


@contextlib.contextmanager
def node_rig(node, env, image_topics=('image',)):
    """
    Start the scripted camera and the probe beside a started ``node``; yield (camera, probe).

    Waits until both programs run, the node is active and every image topic has matched the
    node's subscription; stops all three processes at the end.
    """
    camera = DrivenProcess([PROGRAMS / 'node_camera.py'], env)
    probe = DrivenProcess([PROGRAMS / 'node_probe.py'], env)
    try:
        for process in (camera, probe):
            process.wait_for_line(lambda line: line == 'READY', timeout=30)
        node.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
        for topic in image_topics:
            assert camera('wait_match', topic=topic)['matched'], node.output
        yield camera, probe
    finally:
        for process in (camera, probe, node):
            process.stop()
