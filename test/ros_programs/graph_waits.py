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

"""Waiting on the ROS graph with deadlines (discovery takes seconds; never a fixed sleep)."""

import sys
import time

import rclpy


def wait_for_subscribers(node, publisher, timeout=20.0):
    """Spin until ``publisher`` has a matched subscriber; exit with status 2 on timeout."""
    deadline = time.monotonic() + timeout
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print('no subscriber matched', flush=True)
            sys.exit(2)
        rclpy.spin_once(node, timeout_sec=0.05)


def wait_until_unsubscribed(node, publisher, timeout=20.0):
    """Spin until every subscriber of ``publisher`` has left, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while publisher.get_subscription_count() > 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)


def matched_within(count, timeout):
    """
    Return True once ``count()`` (a matched-endpoint count) is above 0, False after timeout.

    For endpoints whose node is spun elsewhere or not at all: the counts come from DDS.
    """
    deadline = time.monotonic() + timeout
    while count() == 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
