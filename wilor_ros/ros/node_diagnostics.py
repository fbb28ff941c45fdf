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

"""Counters and timings of the node, and the /diagnostics status built from them."""

import collections
import threading
import time

import numpy as np


class FrameStatistics:
    """Counters and timings reported on /diagnostics; updated from several threads."""

    def __init__(self):
        """Start with zero counts."""
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.skipped_idle = 0
        self.hands = 0
        self.published = collections.Counter()
        self.errors = collections.Counter()
        self.last_error = ''
        self._timings = []
        self._errors_in_window = 0
        self._window_start = time.monotonic()

    def count_received(self, dropped):
        """Count an incoming image, and a dropped one when it replaced an unprocessed one."""
        with self._lock:
            self.received += 1
            self.dropped += int(dropped)

    def count_idle(self):
        """Count a frame taken but not processed because nobody subscribes to an output."""
        with self._lock:
            self.skipped_idle += 1

    def count_processed(self, processing, latency, hands):
        """Count a processed frame: seconds of work, seconds since receipt, hands found."""
        with self._lock:
            self.processed += 1
            self.hands = hands
            self._timings.append((processing, latency))

    def count_published(self, topic):
        """Count a message published on an output that is built on demand."""
        with self._lock:
            self.published[topic] += 1

    def count_error(self, kind, text):
        """Count an error of ``kind`` (a short word) and remember its text."""
        with self._lock:
            self.errors[kind] += 1
            self._errors_in_window += 1
            self.last_error = f'{kind}: {text}'

    def report(self):
        """Return the counters, and the timings since the last call, which starts a new window."""
        with self._lock:
            now = time.monotonic()
            elapsed = max(now - self._window_start, 1e-6)
            timings = np.array(self._timings).reshape(-1, 2)
            report = {
                'received': self.received, 'processed': self.processed,
                'dropped': self.dropped, 'skipped_idle': self.skipped_idle,
                'hands': self.hands, 'errors': dict(self.errors),
                'published': dict(self.published),
                'last_error': self.last_error, 'errors_in_window': self._errors_in_window,
                'rate': len(timings) / elapsed,
                'processing': float(timings[:, 0].mean()) if len(timings) else None,
                'latency': float(timings[:, 1].mean()) if len(timings) else None,
                'max_latency': float(timings[:, 1].max()) if len(timings) else None,
            }
            self._timings = []
            self._errors_in_window = 0
            self._window_start = now
            return report


def diagnostic_status(report, name, hardware_id, image_topic):
    """Build the DiagnosticStatus of one report of :meth:`FrameStatistics.report`."""
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    status = DiagnosticStatus(name=name, hardware_id=hardware_id)
    if report['errors_in_window']:
        status.level = DiagnosticStatus.WARN
        status.message = f'{report["errors_in_window"]} bad frames: {report["last_error"]}'
    elif report['received'] == 0:
        status.level = DiagnosticStatus.OK
        status.message = f'waiting for images on {image_topic}'
    elif report['processing'] is None and report['skipped_idle']:
        status.level = DiagnosticStatus.OK
        status.message = 'idle: nobody subscribes to hands, markers or debug_image'
    else:
        status.level = DiagnosticStatus.OK
        status.message = f'{report["rate"]:.1f} Hz'
    values = {
        'frames_received': report['received'],
        'frames_processed': report['processed'],
        'frames_dropped': report['dropped'],
        'frames_skipped_no_subscriber': report['skipped_idle'],
        'processing_rate_hz': f'{report["rate"]:.2f}',
        'hands_last_frame': report['hands'],
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
