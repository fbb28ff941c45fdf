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
Counters and timings of the node, and the /diagnostics status built from them.

Levels, most severe first:

* ERROR "stalled": frames are waiting to be processed but the worker has finished none for
  ``stall_timeout`` seconds (a hung inference, a dead worker thread, a device that stopped
  answering). Frames handled without inference (nobody subscribes) count as progress; frames
  that fail do not, so a node that fails on every frame turns ERROR too.
* WARN: bad frames within the rate window, or a mean end-to-end latency over
  ``latency_budget`` seconds (0 switches that check off).
* OK: waiting for images, idle (nobody subscribes), or the processing rate.

The rate is measured over the last ``window`` seconds (not since the last report), so a node
that needs several seconds per frame reports e.g. 0.25 Hz instead of alternating between 0 and
1 Hz. :class:`FrameStatistics` takes a clock, so all of this is testable without DDS.
"""

import collections
import threading
import time

import numpy as np

DEFAULT_WINDOW = 10.0
DEFAULT_STALL_TIMEOUT = 20.0
DEFAULT_LATENCY_BUDGET = 1.0
# Timings older than the longest allowed window are forgotten (node_parameters limits the
# window to this); the length cap bounds memory at absurd frame rates.
MAX_WINDOW = 300.0
_MAX_EVENTS = 100_000


class FrameStatistics:
    """Counters and timings reported on /diagnostics; updated from several threads."""

    def __init__(self, clock=time.monotonic):
        """Start with zero counts; ``clock`` returns seconds (monotonic)."""
        self._clock = clock
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.skipped_idle = 0
        self.overlapped = 0
        self.hands = 0
        self.published = collections.Counter()
        self.errors = collections.Counter()
        self.last_error = ''
        self._completions = collections.deque(maxlen=_MAX_EVENTS)  # (time, work, latency)
        self._error_times = collections.deque(maxlen=_MAX_EVENTS)
        self._first_received = None
        self._last_received = None
        # Since when a frame has been waiting with no frame finished (None: nothing waits).
        self._waiting_since = None

    def count_received(self, dropped):
        """Count an incoming image, and a dropped one when it replaced an unprocessed one."""
        with self._lock:
            now = self._clock()
            self.received += 1
            self.dropped += int(dropped)
            self._last_received = now
            if self._first_received is None:
                self._first_received = now
            if self._waiting_since is None:
                self._waiting_since = now

    def count_idle(self):
        """Count a frame taken but not processed because nobody subscribes to an output."""
        with self._lock:
            self.skipped_idle += 1
            self._waiting_since = None

    def count_processed(self, processing, latency, hands):
        """Count a processed frame: seconds of work, seconds since receipt, hands found."""
        with self._lock:
            now = self._clock()
            self.processed += 1
            self.hands = hands
            self._completions.append((now, processing, latency))
            while self._completions[0][0] < now - MAX_WINDOW:
                self._completions.popleft()
            # A frame that arrived while this one was processed waits from now on.
            newer_waiting = (self._last_received is not None
                             and self._last_received > now - latency)
            self._waiting_since = now if newer_waiting else None

    def count_overlapped(self):
        """Count a batch whose detector was queued while the previous batch ran (overlap)."""
        with self._lock:
            self.overlapped += 1

    def count_published(self, topic):
        """Count a message published on an output that is built on demand."""
        with self._lock:
            self.published[topic] += 1

    def count_error(self, kind, text):
        """Count an error of ``kind`` (a short word) and remember its text."""
        with self._lock:
            now = self._clock()
            self.errors[kind] += 1
            self.last_error = f'{kind}: {text}'
            self._error_times.append(now)
            while self._error_times[0] < now - MAX_WINDOW:
                self._error_times.popleft()

    def report(self, window=DEFAULT_WINDOW):
        """Return the counters, and rate and timings over the last ``window`` seconds."""
        with self._lock:
            now = self._clock()
            start = now - window
            recent = [event for event in self._completions if event[0] > start]
            timings = np.array([event[1:] for event in recent]).reshape(-1, 2)
            return {
                'received': self.received, 'processed': self.processed,
                'dropped': self.dropped, 'skipped_idle': self.skipped_idle,
                'overlapped': self.overlapped,
                'hands': self.hands, 'errors': dict(self.errors),
                'published': dict(self.published), 'last_error': self.last_error,
                'window': float(window),
                'errors_in_window': sum(1 for when in self._error_times if when > start),
                'rate': self._rate(recent, now, start),
                'processing': float(timings[:, 0].mean()) if len(timings) else None,
                'latency': float(timings[:, 1].mean()) if len(timings) else None,
                'max_latency': float(timings[:, 1].max()) if len(timings) else None,
                'stalled': 0.0 if self._waiting_since is None else now - self._waiting_since,
            }

    def _rate(self, recent, now, start):
        """
        Frames per second: the n frames finished in the window over the n intervals they end.

        The intervals start at the last frame finished before the window (or when frames began
        to arrive), so the rate is exact for steady processing whatever the phase of the
        window: 0.25 Hz stays 0.25, not 0.2 or 0.3. While the current wait is longer than the
        mean interval, it counts as one, so a rate decays when processing stops.
        """
        if not recent:
            return 0.0
        older = [event[0] for event in self._completions if event[0] <= start]
        origin = older[-1] if older else max(self._first_received, start)
        last = recent[-1][0]
        end = last if now - last <= (last - origin) / len(recent) else now
        return len(recent) / max(end - origin, 1e-9)


def _rate_text(rate):
    return f'{rate:.1f} Hz' if rate >= 10 else f'{rate:.2f} Hz'


def diagnostic_status(report, name, hardware_id, image_topic,
                      stall_timeout=DEFAULT_STALL_TIMEOUT,
                      latency_budget=DEFAULT_LATENCY_BUDGET):
    """
    Build the DiagnosticStatus of one report of :meth:`FrameStatistics.report`.

    ``stall_timeout``: seconds frames may wait with none processed before ERROR;
    ``latency_budget``: mean end-to-end seconds above which the status is WARN (0: off).
    """
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    status = DiagnosticStatus(name=name, hardware_id=hardware_id)
    window = f'{report["window"]:g} s'
    if report['stalled'] > stall_timeout:
        status.level = DiagnosticStatus.ERROR
        status.message = (f'stalled: frames arrive but none was processed for '
                          f'{report["stalled"]:.0f} s (limit {stall_timeout:g} s)')
        if report['last_error']:
            status.message += f'; last error {report["last_error"]}'
    elif report['errors_in_window']:
        status.level = DiagnosticStatus.WARN
        status.message = (f'{report["errors_in_window"]} bad frames in the last {window}: '
                          f'{report["last_error"]}')
    elif (latency_budget > 0 and report['latency'] is not None
          and report['latency'] > latency_budget):
        status.level = DiagnosticStatus.WARN
        status.message = (f'latency {1000 * report["latency"]:.0f} ms over the budget of '
                          f'{1000 * latency_budget:.0f} ms ({_rate_text(report["rate"])})')
    elif report['received'] == 0:
        status.level = DiagnosticStatus.OK
        status.message = f'waiting for images on {image_topic}'
    elif report['processing'] is None and report['skipped_idle']:
        status.level = DiagnosticStatus.OK
        status.message = 'idle: nobody subscribes to hands, markers or debug_image'
    else:
        status.level = DiagnosticStatus.OK
        status.message = _rate_text(report['rate'])
    values = {
        'frames_received': report['received'],
        'frames_processed': report['processed'],
        'frames_dropped': report['dropped'],
        'frames_skipped_no_subscriber': report['skipped_idle'],
        'batches_overlapped': report['overlapped'],
        'processing_rate_hz': f'{report["rate"]:.3f}',
        'rate_window_s': f'{report["window"]:g}',
        'hands_last_frame': report['hands'],
        'waiting_without_progress_s': f'{report["stalled"]:.1f}',
        'stall_timeout_s': f'{stall_timeout:g}',
        'latency_budget_ms': f'{1000 * latency_budget:.0f}',
    }
    for key, seconds in (('processing_time_ms', report['processing']),
                         ('latency_ms', report['latency']),
                         ('max_latency_ms', report['max_latency'])):
        values[key] = '' if seconds is None else f'{1000 * seconds:.1f}'
    for topic in ('markers', 'debug_image'):
        values[f'published.{topic}'] = report['published'].get(topic, 0)
    for kind, count in sorted(report['errors'].items()):
        values[f'errors.{kind}'] = count
    status.values = [KeyValue(key=key, value=str(value)) for key, value in values.items()]
    return status


def graph_key_values(pipeline):
    """
    Return the KeyValues ``graphs.*`` of a compiled pipeline's GraphBook (none without graphs).

    Compilations after warm-up and graph misses: a slow frame is never unexplained.
    """
    from diagnostic_msgs.msg import KeyValue

    if pipeline is None or not pipeline.compiled:
        return []
    return [KeyValue(key=f'graphs.{key}', value=str(value))
            for key, value in pipeline.graphs.report().items()]
