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
The hand-over between the image callback and the inference worker: newest frame only.

A camera at 30 Hz and a model at 5 Hz must not build a queue: the callback replaces an
unprocessed frame (counted as dropped by the caller) and the worker always takes the newest,
one per camera.
"""

import threading


class Frame:
    """An image message with the monotonic time it was received."""

    __slots__ = ('msg', 'received')

    def __init__(self, msg, received):
        """Wrap ``msg``, received at ``received`` (time.monotonic())."""
        self.msg = msg
        self.received = received


class LatestFrames:
    """
    One newest-frame slot per camera, and a worker that takes every waiting frame at once.

    ``put(camera, frame)`` replaces that camera's unprocessed frame (and says so, so it is
    counted as dropped for that camera); ``take_all`` waits until some camera has a frame and
    empties every slot, so the frames of several cameras go through the networks as one batch
    while no camera can queue up work.
    """

    def __init__(self):
        """Start empty."""
        self._condition = threading.Condition()
        self._frames = {}
        self._closed = False

    def put(self, camera, frame):
        """Store ``frame`` for ``camera``; return True when it replaced an untaken one."""
        with self._condition:
            replaced = camera in self._frames
            self._frames[camera] = frame
            self._condition.notify()
            return replaced

    def take_all(self, timeout):
        """Return ``{camera: newest frame}`` and empty the slots ({} after ``timeout`` s)."""
        with self._condition:
            if not self._frames and not self._closed:
                self._condition.wait(timeout)
            frames, self._frames = self._frames, {}
            return frames

    def clear(self):
        """Forget untaken frames (on deactivation); return how many there were."""
        with self._condition:
            count = len(self._frames)
            self._frames = {}
            return count

    def close(self):
        """Wake a waiting worker for shutdown."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def reopen(self):
        """Accept frames again after :meth:`close` (a lifecycle node may be re-activated)."""
        with self._condition:
            self._closed = False
