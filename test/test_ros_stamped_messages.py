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

"""Pairing an image with camera_info / depth messages that arrive after it (no DDS needed)."""

import threading
import time

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from wilor_ros.ros.camera_info import CameraInfoCache
from wilor_ros.ros.depth_sync import DepthMatcher
from wilor_ros.ros.stamped_messages import MAX_MISSES, StampedMessages

pytestmark = pytest.mark.ros

# Long enough never to expire in a passing test, even on a loaded machine.
PATIENT = 10.0


def stamped(msg, sec, nanosec=0):
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    return msg


def camera_info(sec, fx):
    info = stamped(CameraInfo(width=640, height=480), sec)
    info.k = [fx, 0.0, 320.0, 0.0, fx, 240.0, 0.0, 0.0, 1.0]
    return info


def later(seconds, function, *args):
    """Call function(*args) from another thread (as the executor would) after seconds."""
    timer = threading.Timer(seconds, function, args)
    timer.start()
    return timer


def test_a_late_camera_info_with_the_image_stamp_is_waited_for():
    cache = CameraInfoCache()
    cache.add(camera_info(9, fx=500.0))            # the previous frame's
    header = stamped(Image(), 10).header
    later(0.2, cache.add, camera_info(10, fx=600.0)).join(0)
    intrinsics, problem = cache.intrinsics_for(header, 640, 480, wait=PATIENT)
    assert problem is None and intrinsics.fx == 600.0
    # Without waiting, an image whose camera_info has not arrived takes the newest one.
    intrinsics, _ = cache.intrinsics_for(stamped(Image(), 11).header, 640, 480, wait=0.0)
    assert intrinsics.fx == 600.0


def depth_image(sec, nanosec, millimetres):
    depth = stamped(Image(height=2, width=3, encoding='16UC1', step=6), sec, nanosec)
    depth.data = np.full((2, 3), millimetres, '<u2').tobytes()
    return depth


def test_a_late_depth_image_is_paired():
    matcher = DepthMatcher()
    matcher.add(depth_image(9, 967_000_000, 500))          # the previous frame's, 33 ms off
    header = stamped(Image(), 10).header
    later(0.2, matcher.add, depth_image(10, 1_000_000, 700))
    depth, offset, problem = matcher.depth_for(header, (2, 3, 3), True, 0.02, wait=PATIENT)
    assert problem is None and offset == pytest.approx(0.001)
    np.testing.assert_allclose(depth, 0.7)


def test_a_topic_that_never_pairs_stops_being_waited_for_until_it_is_on_time():
    messages = StampedMessages(4)
    for frame in range(MAX_MISSES):
        assert not messages.wait_for(stamped(Image(), frame).header.stamp, 0.05)
    start = time.monotonic()
    assert not messages.wait_for(stamped(Image(), 5).header.stamp, PATIENT)
    assert time.monotonic() - start < PATIENT / 2          # returned at once
    # Once a message is there on time, the topic pairs again and is waited for.
    messages.add(stamped(Image(), 6))
    assert messages.wait_for(stamped(Image(), 6).header.stamp, PATIENT)
    later(0.2, messages.add, stamped(Image(), 7))
    assert messages.wait_for(stamped(Image(), 7).header.stamp, PATIENT)
    assert [stamp for stamp, _ in messages.messages()] == [6_000_000_000, 7_000_000_000]


def test_a_topic_back_after_a_gap_is_waited_for_again_even_when_always_late():
    # A depth camera that stalls for a few frames, then comes back slightly after each image:
    # its first message after the gap ends the skipping, so later images wait for theirs.
    messages = StampedMessages(4)
    for frame in range(MAX_MISSES):
        assert not messages.wait_for(stamped(Image(), frame).header.stamp, 0.05)
    assert not messages.wait_for(stamped(Image(), 3).header.stamp, PATIENT)   # skipped
    messages.add(stamped(Image(), 3))            # the late one for the last skipped image
    later(0.2, messages.add, stamped(Image(), 4))
    assert messages.wait_for(stamped(Image(), 4).header.stamp, PATIENT)
