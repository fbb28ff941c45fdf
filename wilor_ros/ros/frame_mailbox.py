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
unprocessed frame (counted as dropped by the caller) and the worker always takes the newest.
"""

import threading


class LatestFrame:
    """
    A one-slot mailbox between the image callback and the worker.

    ``put`` replaces an unprocessed frame (and says so, so it is counted as dropped);
    ``take`` waits for a frame and empties the slot.
    """

    def __init__(self):
        """Start empty."""
        self._condition = threading.Condition()
        self._frame = None
        self._closed = False

    def put(self, frame):
        """Store ``frame``; return True when it replaced one the worker never took."""
        with self._condition:
            replaced = self._frame is not None
            self._frame = frame
            self._condition.notify()
            return replaced

    def take(self, timeout):
        """Return the newest frame and empty the slot, or None after ``timeout`` seconds."""
        with self._condition:
            if self._frame is None and not self._closed:
                self._condition.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self):
        """Wake a waiting worker for shutdown."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class Frame:
    """An image message with the monotonic time it was received."""

    __slots__ = ('msg', 'received')

    def __init__(self, msg, received):
        """Wrap ``msg``, received at ``received`` (time.monotonic())."""
        self.msg = msg
        self.received = received
