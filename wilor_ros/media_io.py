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
Read frames from images, image folders, video files, webcams and ROS 2 MCAP bags.

Every input is an iterable of :class:`Frame` (BGR ``uint8`` images). A frame that cannot be
decoded is still yielded, with ``image=None`` and ``error`` saying why, so callers can report it
and go on. An input that cannot be opened at all raises :class:`MediaError` naming the file and
what was expected. Iterating an input again starts it over (used for looping). Bags are read
with the ``mcap`` / ``mcap-ros2-support`` packages, without ROS.
"""

import dataclasses
import pathlib
import re
from typing import Optional

import cv2
import numpy as np

from wilor_ros.stamps import media_time_nanoseconds

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
BAG_SUFFIXES = ('.mcap',)
IMAGE_SCHEMAS = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
CAMERA_INFO_SCHEMA = 'sensor_msgs/msg/CameraInfo'


class MediaError(RuntimeError):
    """An input cannot be opened or read; the message names it and what was expected."""


@dataclasses.dataclass
class Frame:
    """One input frame; ``image`` is None (and ``error`` set) when it could not be decoded."""

    index: int
    image: Optional[np.ndarray]
    source: str
    stamp_ns: Optional[int] = None
    log_time_ns: Optional[int] = None
    frame_id: str = ''
    camera_matrix: Optional[np.ndarray] = None
    error: str = ''
    # Aligned depth image paired by stamp (bags with a depth topic): uint16 mm or float32 m.
    depth: Optional[np.ndarray] = None


def natural_sort_key(path):
    """Sort key that puts ``frame2.png`` before ``frame10.png``."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r'(\d+)', pathlib.Path(path).name)]


def read_image(path):
    """Read an image file as BGR uint8 (H, W, 3); raise MediaError when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MediaError(f'cannot decode image {path} (empty, damaged or not an image format '
                         'OpenCV reads)')
    return image


class ImageFiles:
    """A single image or a folder of images (natural name order)."""

    kind = 'images'

    def __init__(self, path):
        """List the images (MediaError when there are none)."""
        self.path = pathlib.Path(path)
        if self.path.is_dir():
            self.files = sorted((p for p in self.path.iterdir()
                                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                                key=natural_sort_key)
            if not self.files:
                raise MediaError(f'no images in folder {self.path} (expected files ending in '
                                 f'{", ".join(IMAGE_SUFFIXES)})')
        else:
            self.files = [self.path]
        self.count = len(self.files)
        self.fps = None

    def __iter__(self):
        """Yield the images in order; an undecodable file gives a Frame with ``error``."""
        for index, path in enumerate(self.files):
            try:
                image = read_image(path)
            except (MediaError, OSError) as error:
                yield Frame(index, None, str(path), error=str(error))
            else:
                yield Frame(index, image, str(path))


class VideoCapture:
    """A video file, or a webcam given as ``/dev/videoN`` or a device index."""

    def __init__(self, spec, width=0, height=0):
        """Open the file or device now, so that a bad source fails early (MediaError)."""
        self.spec = spec
        self.is_camera = _is_camera_spec(spec)
        self.kind = 'camera' if self.is_camera else 'video'
        self.width = int(width)
        self.height = int(height)
        capture = self._open()
        self.fps = capture.get(cv2.CAP_PROP_FPS) or None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.count = count if count > 0 and not self.is_camera else None
        self._capture = capture

    def _open(self):
        if self.is_camera:
            device = int(self.spec) if str(self.spec).isdigit() else str(self.spec)
            capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
            if not capture.isOpened():
                capture = cv2.VideoCapture(device)
            if not capture.isOpened():
                raise MediaError(f'cannot open webcam {self.spec} (does the device exist, is it '
                                 'in use by another program, may this user open it?)')
            if self.width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            return capture
        path = pathlib.Path(self.spec)
        if not path.is_file():
            raise MediaError(f'video file {path} does not exist')
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise MediaError(f'cannot open video {path}: OpenCV/FFmpeg cannot read it (damaged, '
                             'or not a video format)')
        return capture

    def __iter__(self):
        """Yield the frames from the start (a file is reopened for every pass)."""
        capture, self._capture = self._capture, None
        if capture is None:
            if self.is_camera:
                raise MediaError(f'webcam {self.spec} cannot be restarted')
            capture = self._open()
        try:
            index = 0
            while True:
                ok, image = capture.read()
                if not ok or image is None:
                    return
                stamp = media_time_nanoseconds(index, self.fps) if self.fps else None
                yield Frame(index, image, f'{self.spec}#{index}', stamp_ns=stamp)
                index += 1
        finally:
            capture.release()

    def close(self):
        """Release the device or file."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _is_camera_spec(spec):
    text = str(spec)
    return text.isdigit() or re.fullmatch(r'/dev/video\d+', text) is not None


def as_bgr(image):
    """Make any converted image 3-channel BGR uint8 (mono and 16-bit bag images included)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    image = np.ascontiguousarray(image)
    # Converters may return views of the message's (read-only) bytes; torch wants writable.
    return image if image.flags.writeable else image.copy()


def open_input(spec, *, topic=None, camera_info_topic='auto', width=0, height=0,
               depth_topic=None, depth_tolerance=0.02):
    """
    Open ``spec``: an image, a folder of images, a video, an ``.mcap`` bag, or a webcam.

    Webcams are ``/dev/videoN`` or a device index. Returns an iterable of :class:`Frame` with
    ``kind``, ``count`` (None when unknown) and ``fps`` (None when unknown). Raises MediaError.
    """
    text = str(spec)
    if _is_camera_spec(text):
        return VideoCapture(text, width, height)
    path = pathlib.Path(text).expanduser()
    if not path.exists():
        raise MediaError(f'input {path} does not exist (expected an image, a folder of images, '
                         'a video file, an .mcap bag or a webcam /dev/videoN)')
    if path.is_dir():
        if any(path.glob('*.mcap')) and not any(p.suffix.lower() in IMAGE_SUFFIXES
                                                for p in path.iterdir()):
            bags = sorted(path.glob('*.mcap'))
            if len(bags) == 1:
                from wilor_ros.bag_input import BagImages

                # A rosbag2 directory (metadata.yaml + one .mcap file).
                return BagImages(bags[0], topic, camera_info_topic, depth_topic,
                                 depth_tolerance)
        return ImageFiles(path)
    suffix = path.suffix.lower()
    if suffix in BAG_SUFFIXES:
        from wilor_ros.bag_input import BagImages

        return BagImages(path, topic, camera_info_topic, depth_topic, depth_tolerance)
    if suffix in IMAGE_SUFFIXES:
        return ImageFiles(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoCapture(str(path))
    raise MediaError(f'cannot tell what {path} is from its suffix {suffix!r}: expected an image '
                     f'({", ".join(IMAGE_SUFFIXES)}), a video ({", ".join(VIDEO_SUFFIXES)}) '
                     'or an .mcap bag')
