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

"""The outputs of ``wilor-infer``: JSON records, overlay pictures or video, progress."""

import json
import pathlib
import sys
import time

import numpy as np

from wilor_ros.stamps import from_nanoseconds

_VIDEO_WRITER_CODECS = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG',
                        '.mkv': 'MJPG'}


class InferError(RuntimeError):
    """A problem that stops wilor-infer; the message says what and where."""


def _stamp_dict(stamp_ns):
    if stamp_ns is None:
        return None
    sec, nanosec = from_nanoseconds(stamp_ns)
    return {'sec': sec, 'nanosec': nanosec}


def frame_record(frame, hands, camera_matrix):
    """JSON-ready record of one processed frame."""
    height, width = frame.image.shape[:2]
    return {
        'frame': frame.index,
        'source': frame.source,
        'stamp': _stamp_dict(frame.stamp_ns),
        'frame_id': frame.frame_id,
        'image_size': [int(width), int(height)],
        'camera_matrix': None if camera_matrix is None else np.asarray(camera_matrix).tolist(),
        'hands': [hand.to_dict() for hand in hands],
    }


def fused_record(batch, output, stamp_ns, hands):
    """
    JSON-ready record of a batch's fused hands (``output``: the fusion step's FusionOutput).

    Like the node's ``hands_fused``: ``frame_id`` is the common frame and ``stamp`` the
    batch's reference stamp; each hand's ``cameras`` names the cameras that made it and
    ``keypoint_uncertainty`` is its per-joint RMS uncertainty (m). ``cameras``: the cameras
    fused; ``out_of_sync`` / ``without_pose``: the cameras the batch left out, and why.
    """
    return {
        'fused': True,
        'batch': batch,
        'stamp': _stamp_dict(stamp_ns),
        'frame_id': output.frame,
        'cameras': list(output.cameras),
        'out_of_sync': list(output.out_of_sync),
        'without_pose': list(output.without_pose),
        'rejected_views': int(output.rejected_views),
        'hands': [hand.to_dict() for hand in hands],
    }


class JsonOutput:
    """One JSON file per frame in a folder, or one JSON Lines file (``-`` = stdout)."""

    def __init__(self, path, jsonl):
        """Open the JSON Lines file, or create the folder for per-frame files."""
        self.jsonl = jsonl
        self.path = path
        if jsonl:
            if str(path) == '-':
                self._stream = sys.stdout
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = open(path, 'w')
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._stream = None

    def write(self, record, name=None):
        """Write one record; ``name``: its file's name in a folder (default frame_NNNNNN)."""
        if self.jsonl:
            self._stream.write(json.dumps(record) + '\n')
        else:
            name = name or f'frame_{record["frame"]:06d}'
            target = self.path / f'{name}.json'
            target.write_text(json.dumps(record, indent=1) + '\n')

    def close(self):
        """Flush and close the JSON Lines file."""
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        elif self._stream is not None:
            self._stream.flush()


class OverlayOutput:
    """Overlay images into a folder, or an overlay video (``.mp4`` / ``.avi`` ...)."""

    def __init__(self, path, fps, faces):
        """Prepare the output; ``faces`` are the MANO triangles for the meshes."""
        from wilor_ros import debug_overlay

        self._draw = debug_overlay.draw_hands
        self.faces = faces
        self.path = pathlib.Path(path)
        self.fps = fps or 30.0
        self.video = self.path.suffix.lower() in _VIDEO_WRITER_CODECS
        self._writer = None
        self._size = None
        if not self.video:
            self.path.mkdir(parents=True, exist_ok=True)

    def write(self, frame, hands, camera_matrix=None):
        """Draw the hands over the frame and store the picture."""
        import cv2

        picture = self._draw(frame.image, hands, faces=self.faces, camera_matrix=camera_matrix)
        if not self.video:
            cv2.imwrite(str(self.path / f'frame_{frame.index:06d}.jpg'), picture)
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._size = (picture.shape[1], picture.shape[0])
            codec = cv2.VideoWriter_fourcc(*_VIDEO_WRITER_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), codec, self.fps, self._size)
            if not self._writer.isOpened():
                raise InferError(f'cannot write the overlay video {self.path}')
        if (picture.shape[1], picture.shape[0]) != self._size:
            picture = cv2.resize(picture, self._size)
        self._writer.write(picture)

    def close(self):
        """Finish the video file."""
        if self._writer is not None:
            self._writer.release()


class FrameProgress:
    """Plain-text frame counter on stderr: redrawn on a terminal, every 10 % otherwise."""

    def __init__(self, total, stream=None):
        """Count towards ``total`` frames (None: unknown)."""
        self.total = total
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.done = 0
        self.hands = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._decile = 0

    def update(self, frames, hands):
        """Count processed frames and hands, and redraw when due."""
        self.done += frames
        self.hands += hands
        now = time.monotonic()
        if self.interactive and now - self._last >= 0.2:
            self._draw(now, '\r')
        elif not self.interactive and self.total:
            decile = int(10 * self.done / self.total)
            if decile > self._decile:
                self._decile = decile
                self._draw(now, '\n')

    def close(self):
        """End the progress line."""
        if self.interactive:
            self._draw(time.monotonic(), '\n')

    def _draw(self, now, end):
        self._last = now
        rate = self.done / max(now - self._start, 1e-6)
        total = f'/{self.total} ({100 * self.done / self.total:.0f}%)' if self.total else ''
        self.stream.write(f'frames {self.done}{total}, {self.hands} hands, {rate:.1f} fps'
                          + end)
        self.stream.flush()
