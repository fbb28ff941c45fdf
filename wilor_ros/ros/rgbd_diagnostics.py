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

"""Diagnostics of the RGB-D fusion, the wrist TF and the filter (lag, restarts)."""

import threading

from diagnostic_msgs.msg import KeyValue

from wilor_ros.smoothing import lag_seconds

# Hand speeds (m/s) at which the filter's lag is reported: slow, typical, fast reaching.
LAG_SPEEDS = (0.1, 0.5, 1.0)


class RgbdStatistics:
    """Counters of depth pairing and fusion, updated by the worker, read by the timer."""

    def __init__(self):
        """Start at zero."""
        self._lock = threading.Lock()
        self.values = {'depth_frames_fused': 0, 'depth_frames_unmatched': 0,
                       'depth_hands_fused': 0, 'depth_hands_kept_mono': 0,
                       'tf_transforms_published': 0}
        self.last_offset = None

    def count(self, key, amount=1):
        """Add ``amount`` to counter ``key``."""
        with self._lock:
            self.values[key] = self.values.get(key, 0) + amount

    def count_frame(self, fused, depth_seen):
        """Count a frame that got a depth image to fuse, or one that found none."""
        if fused:
            self.count('depth_frames_fused')
        elif depth_seen:
            self.count('depth_frames_unmatched')

    def count_hands(self, hands):
        """Count hands placed by depth and hands that kept the monocular depth."""
        fused = sum(hand.translation_source == 'depth' for hand in hands)
        self.count('depth_hands_fused', fused)
        self.count('depth_hands_kept_mono', len(hands) - fused)

    def set_offset(self, offset):
        """Record the latest colour-depth stamp offset (s), or None."""
        with self._lock:
            self.last_offset = offset

    def key_values(self, settings, filter_restarts):
        """Return the diagnostic KeyValues (counters, filter lag, ``filter_restarts`` so far)."""
        with self._lock:
            values = dict(self.values)
            offset = self.last_offset
        if offset is not None:
            values['depth_stamp_offset_ms'] = f'{offset * 1000:.1f}'
        if settings.smoothing_enabled and settings.tracking_enabled:
            for speed in LAG_SPEEDS:
                lag = lag_seconds(speed, settings.smoothing_min_cutoff, settings.smoothing_beta)
                values[f'filter_lag_ms_at_{speed:g}_m_s'] = f'{lag * 1000:.0f}'
        else:
            values['filter_lag_ms'] = 'smoothing off'
        values['filter_restarts_on_jumps'] = filter_restarts
        return [KeyValue(key=key, value=str(value)) for key, value in values.items()]
