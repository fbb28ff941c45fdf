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
in the diagnostics but never logged. :class:`KindThrottledLogger` keeps one period per kind of
problem, so every kind is logged at least once per period, and says how many of that kind were
not logged since its last message, so nothing disappears silently.

A kind is the caller's word (the diagnostics counter, e.g. ``bad_image``) together with the
message's template: the text with its numbers and quoted names masked
(:func:`message_template`). So a wrong ``step`` and an unknown encoding, both ``bad_image``,
are two kinds, while the same wrong step at every frame, or fx = 0 and fx = -600, is one.
"""

import re
import threading
import time

# Numbers (signed, decimal, exponent, inf / nan) and quoted names vary between messages of one
# kind; masking them leaves the template.
_VARYING = re.compile('|'.join((
    r"'[^']*'", r'"[^"]*"',  # quoted names
    r'(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?',  # numbers, not digits in words
    r'\b(?:nan|inf)\b')), re.IGNORECASE)
# Kinds remembered at most; older ones are forgotten first (templates are few, but a message
# could carry input text that the masks miss).
MAX_KINDS = 256


def message_template(text):
    """Return ``text`` with numbers and quoted names replaced by ``#``."""
    return _VARYING.sub('#', str(text))


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
        """Log ``text`` as a warning unless this kind was logged within the period."""
        return self._log(self._logger.warning, kind, text)

    def error(self, kind, text):
        """Log ``text`` as an error unless this kind was logged within the period."""
        return self._log(self._logger.error, kind, text)

    def _log(self, emit, kind, text):
        key = (kind, message_template(text))
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last.pop(key, None)
            self._last[key] = now  # re-inserted: the dict is ordered oldest first
            while len(self._last) > MAX_KINDS:
                oldest = next(iter(self._last))
                del self._last[oldest]
                self._suppressed.pop(oldest, None)
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            text = f'{text} ({suppressed} more like it not logged in the last {self._period:g} s)'
        emit(text)
        return True
