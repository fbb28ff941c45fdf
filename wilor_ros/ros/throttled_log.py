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
Warnings throttled per *kind* of problem, not per call site.

rclpy's ``throttle_duration_sec`` throttles per call site: when one site logs several kinds of
bad input (a bad step, then an unknown encoding), the second kind within the period is counted
in the diagnostics but never logged. :class:`KindThrottledLogger` keeps one period per kind, so
every kind is logged at least once per period, and says how many of that kind were not logged
since its last message, so nothing disappears silently.
"""

import threading
import time


class KindThrottledLogger:
    """
    Log at most one message per kind and ``period`` seconds on an rclpy-style logger.

    ``logger``: anything with ``warning`` / ``error`` methods taking a string (an rclpy
    ``RcutilsLogger``, a ``logging.Logger``); ``clock``: seconds, monotonic (tests pass their
    own). Thread-safe: the worker and the executor thread may log at the same time.
    """

    def __init__(self, logger, period=5.0, clock=time.monotonic):
        """Keep the logger; nothing has been logged yet."""
        self._logger = logger
        self._period = float(period)
        self._clock = clock
        self._lock = threading.Lock()
        self._last = {}
        self._suppressed = {}

    def warning(self, kind, text):
        """Log ``text`` as a warning unless ``kind`` was logged within the period."""
        return self._log(self._logger.warning, kind, text)

    def error(self, kind, text):
        """Log ``text`` as an error unless ``kind`` was logged within the period."""
        return self._log(self._logger.error, kind, text)

    def _log(self, emit, kind, text):
        now = self._clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._period:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            text = (f'{text} ({suppressed} more {kind} not logged in the last '
                    f'{self._period:g} s)')
        emit(text)
        return True
