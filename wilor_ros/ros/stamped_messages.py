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
The newest messages of one topic, looked up by the stamp of an image from another topic.

ROS gives no order between topics: a camera driver publishes camera_info and the depth image
with the colour image's stamp, yet either may reach the node after the colour image (another
transport, another executor turn). :meth:`StampedMessages.wait_for` lets the worker thread wait
briefly for the partner of an image, as an exact-time synchroniser would, without making a
topic that never pairs (not published, or stamped by another clock) cost that wait on every
frame: after ``MAX_MISSES`` waits in a row that end with nothing newer, the topic is not waited
for again until one of its messages arrives stamped at or after the last image it missed (it was
late, not absent: a depth camera back after a hiccup) or is already there for an image.
"""

import collections
import threading
import time

# Also imported from here by camera_info and the test programs.
from wilor_ros.stamps import stamp_nanoseconds

MAX_MISSES = 3


class StampedMessages:
    """The last ``size`` messages of one topic; safe between the executor and the worker."""

    def __init__(self, size):
        """Keep the newest ``size`` messages."""
        self._messages = collections.deque(maxlen=size)
        self._arrived = threading.Condition()
        self._misses = 0
        self._missed_stamp = None   # stamp (ns) of the last image whose wait came up empty
        self.received = 0

    def add(self, msg):
        """Store a message with a header (executor thread) and wake a waiting lookup."""
        stamp = stamp_nanoseconds(msg.header.stamp)
        with self._arrived:
            self._messages.append((stamp, msg))
            self.received += 1
            if self._missed_stamp is not None and stamp >= self._missed_stamp:
                self._misses = 0   # late, not absent: wait for this topic again
                self._missed_stamp = None
            self._arrived.notify_all()

    def messages(self):
        """Return the stored (stamp ns, message) pairs, oldest first."""
        with self._arrived:
            return list(self._messages)

    def _has_from(self, stamp_ns):
        return bool(self._messages) and self._messages[-1][0] >= stamp_ns

    def wait_for(self, stamp, timeout):
        """
        Wait up to ``timeout`` s until a message stamped at or after ``stamp`` is stored.

        A message stamped later than the image cannot pair better than one already there, so
        that is when waiting can stop. Returns whether such a message is there; waits not at
        all while the topic is considered not pairing (see the module docstring).
        """
        stamp_ns = stamp_nanoseconds(stamp)
        with self._arrived:
            if self._has_from(stamp_ns):
                self._misses = 0
                return True
            if timeout <= 0:
                return False
            if self._misses >= MAX_MISSES:   # not waited for; a late message re-enables it
                self._missed_stamp = stamp_ns
                return False
            deadline = time.monotonic() + timeout
            while not self._has_from(stamp_ns):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._misses += 1
                    self._missed_stamp = stamp_ns
                    return False
                self._arrived.wait(left)
            self._misses = 0
            self._missed_stamp = None
            return True
