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
The images of a ROS 2 MCAP bag, read without ROS (``mcap`` / ``mcap-ros2-support``).

One image topic (sensor_msgs/Image or CompressedImage), each frame with its camera matrix
from the bag's CameraInfo and, optionally, the aligned depth image paired by stamp.
"""

import collections

import pathlib

from wilor_ros.camera import CameraError, intrinsics_from_camera_info_k
from wilor_ros.depth_pairing import nearest_depth
from wilor_ros.media_io import as_bgr, CAMERA_INFO_SCHEMA, Frame, IMAGE_SCHEMAS, MediaError
from wilor_ros.stamps import seconds_to_nanoseconds, stamp_nanoseconds


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
                    frame.image = as_bgr(image_msg_to_bgr(decoded))
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


def image_topics(path):
    """Return the image topics (Image, CompressedImage) of the MCAP bag at ``path``, sorted."""
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    try:
        with open(path, 'rb') as stream:
            topics, _ = _bag_topics(make_reader(stream))
    except (McapError, ValueError, OSError, EOFError) as error:
        raise MediaError(f'cannot read MCAP bag {path}: {error}') from None
    return sorted(t for t, schema in topics.items() if schema in IMAGE_SCHEMAS)


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
