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
Group the frames of several cameras into batches by stamp, as recorded (offline).

A batch holds at most one frame per camera, all stamps within ``tolerance`` of each other (so
the fusion's reference stamp has every frame of the batch in sync). Frames come in log-time
order, in which one camera's frame may follow another's newer one; a batch is released, oldest
first, when every camera has a frame in it, when every camera missing from it has already sent
a frame too new to join it, when more than ``max_open`` batches wait, or at the end.
A released batch that lacks cameras is counted per missing camera (``missing``).
"""

import bisect
import collections


class _Batch:
    def __init__(self, stamp):
        self.stamp = stamp  # the oldest stamp in it: the sort key and the join limit
        self.newest = stamp
        self.frames = {}

    def accepts(self, camera, stamp, tolerance):
        return camera not in self.frames and max(self.newest, stamp) - min(
            self.stamp, stamp) <= tolerance

    def add(self, camera, stamp, item):
        self.frames[camera] = item
        self.stamp, self.newest = min(self.stamp, stamp), max(self.newest, stamp)


class StampBatches:
    """
    Batches of ``cameras`` by stamp (integers, e.g. nanoseconds); see the module docstring.

    ``add(camera, stamp, item)`` and ``finish()`` return the batches released, each a list of
    (camera, item) in the order of ``cameras``.
    """

    def __init__(self, cameras, tolerance, max_open=None):
        """Batch ``cameras`` (names) whose stamps are within ``tolerance``."""
        self.cameras = list(cameras)
        self.tolerance = tolerance
        self.max_open = max_open or 4 * len(self.cameras) + 4
        self.missing = collections.Counter()
        self.released = 0
        self._open = []  # sorted by stamp
        self._latest = {}

    def add(self, camera, stamp, item):
        """Put a frame into the nearest batch that takes it (else a new one); release."""
        if camera not in self.cameras:
            raise ValueError(f'unknown camera {camera!r}')
        self._latest[camera] = max(stamp, self._latest.get(camera, stamp))
        joinable = [batch for batch in self._open
                    if batch.accepts(camera, stamp, self.tolerance)]
        if joinable:
            min(joinable, key=lambda batch: abs(batch.stamp - stamp)).add(camera, stamp, item)
            self._open.sort(key=lambda batch: batch.stamp)
        else:
            batch = _Batch(stamp)
            batch.add(camera, stamp, item)
            keys = [open_batch.stamp for open_batch in self._open]
            self._open.insert(bisect.bisect_right(keys, stamp), batch)
        return self._release(final=False)

    def finish(self):
        """Release every batch still open."""
        return self._release(final=True)

    def _closed(self, batch):
        if len(batch.frames) == len(self.cameras):
            return True
        # A camera's later frames are no older than its latest (per camera, stamps grow).
        return all(camera in batch.frames or (camera in self._latest and self._latest[camera]
                                              > batch.stamp + self.tolerance)
                   for camera in self.cameras)

    def _release(self, final):
        released = []
        while self._open and (final or len(self._open) > self.max_open
                              or self._closed(self._open[0])):
            batch = self._open.pop(0)
            self.released += 1
            self.missing.update(c for c in self.cameras if c not in batch.frames)
            released.append([(c, batch.frames[c]) for c in self.cameras if c in batch.frames])
        return released
