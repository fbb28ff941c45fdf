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

import collections
import dataclasses
import pathlib
import re
from typing import Optional

import cv2
import numpy as np

from wilor_ros.camera import CameraError, intrinsics_from_camera_info_k
from wilor_ros.depth_pairing import nearest_depth
from wilor_ros.stamps import media_time_nanoseconds, seconds_to_nanoseconds, stamp_nanoseconds

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


def camera_matrix_from_k(k):
    """
    Return the 3x3 matrix of a CameraInfo ``k``, or None when unset (K = 0) or not a camera.

    A bag's CameraInfo that fails the camera model's validity rule is ignored like a missing
    one: the frames are placed with WiLoR's heuristic and say so (``focal_source``).
    """
    try:
        intrinsics = intrinsics_from_camera_info_k(k)
    except CameraError:
        return None
    return None if intrinsics is None else intrinsics.matrix


class BagImages:
    """
    The images of one topic of a ROS 2 MCAP bag (sensor_msgs/Image or CompressedImage).

    ``topic=None`` picks the only image topic. ``camera_info_topic='auto'`` uses the
    ``camera_info`` next to the image topic when the bag has one: each frame then carries the
    latest camera matrix logged before it. ``depth_topic``: an aligned depth image topic
    (16UC1 mm / 32FC1 m); each frame gets the depth image nearest in stamp within
    ``depth_tolerance`` seconds as ``frame.depth`` (None when there is none).
    """

    kind = 'bag'

    def __init__(self, path, topic=None, camera_info_topic='auto', depth_topic=None,
                 depth_tolerance=0.02):
        """Read the bag summary and choose the topics (MediaError when impossible)."""
        from mcap.exceptions import McapError
        from mcap.reader import make_reader

        self.path = pathlib.Path(path)
        if not self.path.is_file():
            raise MediaError(f'bag {self.path} does not exist')
        try:
            with open(self.path, 'rb') as stream:
                topics, counts = _bag_topics(make_reader(stream))
        except (McapError, ValueError, OSError, EOFError) as error:
            raise MediaError(f'cannot read MCAP bag {self.path}: {error}') from None
        images = sorted(t for t, schema in topics.items()
                        if schema in IMAGE_SCHEMAS and t != depth_topic)
        if topic is None:
            if len(images) != 1:
                raise MediaError(f'{self.path} has {len(images)} image topics '
                                 f'({", ".join(images) or "none"}); choose one with --topic')
            topic = images[0]
        elif topic not in topics:
            raise MediaError(f'{self.path} has no topic {topic}; image topics: '
                             f'{", ".join(images) or "none"}')
        elif topics[topic] not in IMAGE_SCHEMAS:
            raise MediaError(f'topic {topic} in {self.path} holds {topics[topic]}, expected '
                             'sensor_msgs/msg/Image or CompressedImage')
        self.topic = topic
        if camera_info_topic == 'auto':
            base = topic[:-len('/compressed')] if topic.endswith('/compressed') else topic
            guess = base.rsplit('/', 1)[0] + '/camera_info'
            camera_info_topic = guess if topics.get(guess) == CAMERA_INFO_SCHEMA else None
        elif camera_info_topic and topics.get(camera_info_topic) != CAMERA_INFO_SCHEMA:
            raise MediaError(f'{self.path} has no sensor_msgs/msg/CameraInfo topic '
                             f'{camera_info_topic}')
        self.camera_info_topic = camera_info_topic or None
        if depth_topic and topics.get(depth_topic) != 'sensor_msgs/msg/Image':
            raise MediaError(f'{self.path} has no sensor_msgs/msg/Image topic {depth_topic} '
                             f'for --depth-topic; topics: {", ".join(sorted(topics))}')
        self.depth_topic = depth_topic or None
        self.depth_tolerance_ns = seconds_to_nanoseconds(depth_tolerance)
        self.count = counts.get(topic)
        self.fps = None

    def __iter__(self):
        """Yield the image messages in log-time order as frames."""
        from mcap.exceptions import McapError
        from mcap.reader import make_reader
        from mcap_ros2.decoder import DecoderFactory

        from wilor_ros.image_conversion import image_msg_to_bgr

        factory = DecoderFactory()
        decoders = {}
        camera_matrix = None
        topics = [self.topic] + ([self.camera_info_topic] if self.camera_info_topic else [])
        topics += [self.depth_topic] if self.depth_topic else []
        pairing = _DepthPairing(self.depth_tolerance_ns) if self.depth_topic else None
        index = 0
        with open(self.path, 'rb') as stream:
            messages = make_reader(stream).iter_messages(topics=topics, log_time_order=True)
            while True:
                try:
                    schema, channel, message = next(messages)
                except StopIteration:
                    if pairing is not None:
                        yield from pairing.release(final=True)
                    return
                except (McapError, ValueError, EOFError) as error:
                    raise MediaError(f'MCAP bag {self.path} is damaged after {index} '
                                     f'images: {error}') from None
                if channel.id not in decoders:
                    decoders[channel.id] = factory.decoder_for(channel.message_encoding, schema)
                decoder = decoders[channel.id]
                source = f'{self.path}:{channel.topic}@{message.log_time}'
                problem = ''
                try:
                    if decoder is None:
                        raise MediaError(f'no decoder for encoding {channel.message_encoding}')
                    decoded = decoder(message.data)
                except Exception as error:  # Any decoder failure spoils one message only.
                    decoded, problem = None, f'cannot decode the message: {error}'
                if channel.topic == self.camera_info_topic:
                    matrix = None if decoded is None else camera_matrix_from_k(decoded.k)
                    if matrix is not None:
                        camera_matrix = matrix
                    continue
                if channel.topic == self.depth_topic:
                    if decoded is not None:
                        pairing.add_depth(decoded)
                    yield from pairing.release()
                    continue
                frame = Frame(index, None, source, log_time_ns=message.log_time,
                              camera_matrix=camera_matrix)
                index += 1
                if decoded is None:
                    frame.error = problem
                    yield frame
                    continue
                frame.stamp_ns = stamp_nanoseconds(decoded.header.stamp)
                frame.frame_id = decoded.header.frame_id
                try:
                    frame.image = _as_bgr(image_msg_to_bgr(decoded))
                except Exception as error:  # Any failure spoils one frame only.
                    frame.error = f'cannot convert the image: {error}'
                if pairing is None:
                    yield frame
                else:
                    pairing.add_frame(frame)
                    yield from pairing.release()


class _DepthPairing:
    """
    Pair bag frames with their depth image as the node does (log order may put it after).

    The rule is :func:`wilor_ros.depth_pairing.nearest_depth`; what is bag-specific is when a
    frame is decided: once a depth image stamped later than the frame plus the tolerance was
    read (no nearer one can follow), after ``max_pending`` frames, or at the end of the bag.
    """

    def __init__(self, tolerance_ns, max_pending=8):
        self.tolerance_ns = tolerance_ns
        self.max_pending = max_pending
        self.depths = collections.deque(maxlen=2 * max_pending)
        self.frames = collections.deque()
        self.latest_ns = None

    def add_depth(self, msg):
        from wilor_ros.image_conversion import depth_image_to_array

        stamp = stamp_nanoseconds(msg.header.stamp)
        try:
            self.depths.append((stamp, depth_image_to_array(msg)))
        except ValueError:
            return  # An unusable depth image is like a missing one: frames stay monocular.
        self.latest_ns = stamp if self.latest_ns is None else max(self.latest_ns, stamp)

    def add_frame(self, frame):
        self.frames.append(frame)

    def release(self, final=False):
        while self.frames:
            frame = self.frames[0]
            ready = (final or frame.stamp_ns is None or len(self.frames) > self.max_pending
                     or (self.latest_ns is not None
                         and self.latest_ns > frame.stamp_ns + self.tolerance_ns))
            if not ready:
                return
            self.frames.popleft()
            if frame.stamp_ns is not None:
                frame.depth, _ = nearest_depth(self.depths, frame.stamp_ns, self.tolerance_ns)
            yield frame


def _bag_topics(reader):
    """
    Return ({topic: schema name}, {topic: message count or missing}) of an MCAP reader.

    The summary section answers without reading the data. A bag without one (a recording that
    was killed) or without channels in it is scanned from start to end instead.
    """
    summary = reader.get_summary()
    if summary is not None and summary.channels:
        topics = {channel.topic: summary.schemas[channel.schema_id].name
                  for channel in summary.channels.values()
                  if channel.schema_id in summary.schemas}
        counts = {}
        if summary.statistics is not None:
            for channel_id, count in summary.statistics.channel_message_counts.items():
                channel = summary.channels.get(channel_id)
                if channel is not None:
                    counts[channel.topic] = counts.get(channel.topic, 0) + count
        return topics, counts
    topics, counts = {}, {}
    for schema, channel, _ in reader.iter_messages(log_time_order=False):
        if schema is not None:
            topics[channel.topic] = schema.name
        counts[channel.topic] = counts.get(channel.topic, 0) + 1
    return topics, counts


def _as_bgr(image):
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
                # A rosbag2 directory (metadata.yaml + one .mcap file).
                return BagImages(bags[0], topic, camera_info_topic, depth_topic,
                                 depth_tolerance)
        return ImageFiles(path)
    suffix = path.suffix.lower()
    if suffix in BAG_SUFFIXES:
        return BagImages(path, topic, camera_info_topic, depth_topic, depth_tolerance)
    if suffix in IMAGE_SUFFIXES:
        return ImageFiles(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoCapture(str(path))
    raise MediaError(f'cannot tell what {path} is from its suffix {suffix!r}: expected an image '
                     f'({", ".join(IMAGE_SUFFIXES)}), a video ({", ".join(VIDEO_SUFFIXES)}) '
                     'or an .mcap bag')
