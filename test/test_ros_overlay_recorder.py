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

"""The overlay recorder of the main command over real DDS: its ready file and its frames."""

import time

import cv2
import pytest
from ros_harness import DrivenProcess, PROGRAMS, ros_env, RosProcess

pytestmark = pytest.mark.ros


def wait_for_file(path, process, timeout=20.0):
    """Return True once ``path`` exists; False after ``timeout`` or when ``process`` ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or process.proc.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def test_ready_file_only_once_both_topics_are_published_then_every_frame(tmp_path):
    # scripts/run.sh starts the source only after this file exists: a reliable message sent
    # before the recorder matched the node is lost to it (the overlay lost its first frames).
    env = ros_env()
    ready, output = tmp_path / 'ready', tmp_path / 'out' / 'overlay.mp4'
    recorder = RosProcess(['-m', 'wilor_ros.ros.overlay_recorder', '--output', output,
                           '--fps', '10', '--ready-file', ready], env)
    producer = DrivenProcess([PROGRAMS / 'overlay_producer.py'], env)
    try:
        producer.wait_for_line(lambda line: line == 'READY', timeout=30)
        assert producer('advertise', topic='hands') == {'matched': True}, recorder.output
        # Matched on hands, but nothing publishes the debug images yet.
        assert not ready.exists()
        assert producer('advertise', topic='debug_image') == {'matched': True}, recorder.output
        assert wait_for_file(ready, recorder), recorder.output
        for index in range(3):
            assert producer('frame', stamp=[100, index * 100_000_000])['published']
        recorder.wait_for_line(lambda line: line.startswith('100.200: '), timeout=20)
        recorder.stop()
        assert recorder.proc.returncode == 0, recorder.output
        assert f'[overlay] 3 frame(s) written to {output} at 10 fps' in recorder.output
        video = cv2.VideoCapture(str(output))
        assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
        video.release()
    finally:
        producer.stop()
        recorder.stop()
