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
wilor_rviz: RViz gets the camera's own frame as fixed frame (real DDS, a stand-in rviz2).

A RealSense names its optical frame ``camera_color_optical_frame``; the markers carry that
frame, so RViz shows them only with that fixed frame (or a TF tree). Here wilor_source plays
the RealSense (same topic names and frame_id) and a small script stands in for rviz2, printing
the command line it was started with.
"""

import signal

import cv2
from fixture_paths import FIXTURES
import numpy as np
import pytest
from ros_harness import ros_env, RosProcess

pytestmark = pytest.mark.ros

REALSENSE_FRAME = 'camera_color_optical_frame'


def fake_rviz(tmp_path):
    script = tmp_path / 'rviz2'
    script.write_text('#!/bin/sh\necho "RVIZ2 $*"\n')
    script.chmod(0o755)
    return script


def test_fixed_frame_comes_from_the_camera(tmp_path):
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    cv2.imwrite(str(tmp_path / 'frame.png'), image)
    env = ros_env()
    camera = RosProcess(['-m', 'wilor_ros.ros.source_node', '--ros-args',
                         '-p', f'source:={tmp_path / "frame.png"}', '-p', 'loop:=true',
                         '-p', 'rate:=5.0', '-p', f'frame_id:={REALSENSE_FRAME}',
                         '-r', 'image:=/camera/color/image_raw',
                         '-r', 'camera_info:=/camera/color/camera_info'], env)
    rviz = RosProcess(['-m', 'wilor_ros.ros.rviz_launcher', '--config', 'wilor.rviz',
                       '--remap', '/markers:=/robot/markers',
                       '--rviz-executable', fake_rviz(tmp_path), '--ros-args',
                       '-r', 'image:=/camera/color/image_raw',
                       '-r', 'camera_info:=/camera/color/camera_info'], env)
    try:
        line = rviz.wait_for_line(lambda text: text.startswith('RVIZ2 '), timeout=60)
        assert rviz.finish(timeout=20) == 0, rviz.output
    finally:
        for process in (rviz, camera):
            process.stop()
    assert line == (f'RVIZ2 -d wilor.rviz -f {REALSENSE_FRAME} --ros-args '
                    '-r /markers:=/robot/markers')
    assert any(f'RViz fixed frame: {REALSENSE_FRAME}' in text for text in rviz.lines)


def test_a_given_fixed_frame_starts_rviz_at_once(tmp_path):
    rviz = RosProcess(['-m', 'wilor_ros.ros.rviz_launcher', '--config', 'wilor.rviz',
                       '--fixed-frame', 'base_link', '--rviz-executable', fake_rviz(tmp_path)],
                      ros_env())
    try:
        line = rviz.wait_for_line(lambda text: text.startswith('RVIZ2 '), timeout=30)
        assert rviz.finish(timeout=20) == 0, rviz.output
    finally:
        rviz.stop()
    assert line == 'RVIZ2 -d wilor.rviz -f base_link'


def test_missing_rviz_is_one_clear_line(tmp_path):
    rviz = RosProcess(['-m', 'wilor_ros.ros.rviz_launcher', '--config', 'wilor.rviz',
                       '--rviz-executable', tmp_path / 'no-rviz'], ros_env())
    assert rviz.finish(timeout=30) == 1
    assert rviz.lines == ['wilor_rviz: rviz2 is not installed (apt install '
                          'ros-$ROS_DISTRO-rviz2)']


@pytest.mark.parametrize('signal_number', [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_while_waiting_for_the_camera_ends_quietly(tmp_path, signal_number):
    # No camera: it waits and says so; the signal ends it with status 0, no traceback, no RViz.
    rviz = RosProcess(['-m', 'wilor_ros.ros.rviz_launcher', '--config', 'wilor.rviz',
                       '--rviz-executable', fake_rviz(tmp_path)], ros_env())
    try:
        rviz.wait_for_line(lambda text: 'waiting for a message on' in text, timeout=30)
        rviz.proc.send_signal(signal_number)
        assert rviz.finish(timeout=20) == 0, rviz.output
    finally:
        rviz.stop()
    assert not [line for line in rviz.lines if 'Traceback' in line or 'RVIZ2' in line], \
        rviz.output
