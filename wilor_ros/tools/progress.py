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

"""Plain-text progress of a long transfer (the weights download) on a stream."""

import sys
import time


def megabytes(count):
    """Format a byte count as megabytes."""
    return f'{count / 1e6:.1f} MB'


class ProgressBar:
    """
    Plain-text progress on a stream (stderr): a redrawn bar on a terminal, sparse lines otherwise.

    ``update`` is cheap to call per chunk; drawing is throttled.
    """

    def __init__(self, label, total, initial=0, stream=None, width=30):
        """Start a bar for ``total`` bytes (None: unknown) of which ``initial`` are done."""
        self.label = label
        self.total = total
        self.done = initial
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = bool(getattr(self.stream, 'isatty', lambda: False)())
        self._start = time.monotonic()
        self._start_bytes = initial
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, count):
        """Add ``count`` bytes and redraw when due."""
        self.done += count
        now = time.monotonic()
        if self.interactive:
            if now - self._last_draw >= 0.1:
                self._draw(now, end='\r')
        elif self.total:
            decile = int(10 * self.done / self.total)
            if decile != self._last_decile:
                self._last_decile = decile
                self._draw(now, end='\n')

    def close(self):
        """Draw the final state and end the line."""
        if self.interactive or self._last_decile != 10:
            self._draw(time.monotonic(), end='\n')

    def _draw(self, now, end):
        self._last_draw = now
        elapsed = max(now - self._start, 1e-6)
        rate = (self.done - self._start_bytes) / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(round(fraction * self.width))
            bar = '#' * filled + '-' * (self.width - filled)
            text = (f'{self.label} {100 * fraction:5.1f}% [{bar}] '
                    f'{megabytes(self.done)} / {megabytes(self.total)} '
                    f'{rate / 1e6:.1f} MB/s')
        else:
            text = f'{self.label} {megabytes(self.done)} {rate / 1e6:.1f} MB/s'
        self.stream.write(text + end)
        self.stream.flush()
