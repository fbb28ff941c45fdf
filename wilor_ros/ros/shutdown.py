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

"""Ending a node's spin on Ctrl-C / SIGTERM the same way on every ROS 2 release."""

import contextlib

import rclpy
from rclpy.impl.implementation_singleton import rclpy_implementation


@contextlib.contextmanager
def shutdown_ends_spin():
    """
    Let a spin that the context's shutdown interrupts end quietly; re-raise any other error.

    rclpy 7 (Jazzy) can raise RCLError ("the given context is not valid") instead of
    ExternalShutdownException when the signal handler shuts the context down while the executor
    builds its wait set: after a shutdown that is the same ending, not an error.
    """
    try:
        yield
    except rclpy_implementation.RCLError:
        if rclpy.ok():
            raise
