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
Write ``wilor_msgs/HandArray`` messages into MCAP bags that ``ros2 bag`` can read.

With the mesh triangles, the bag also holds one ``wilor_msgs/MeshFaces`` on ``/mano_faces``,
its first message, logged at the time of the first HandArray: the node publishes it once on a
transient-local topic, so a bag without it could not rebuild the meshes. For late subscribers
during ``ros2 bag play``, ``config/bag_play_qos.yaml`` replays it transient local
(``--qos-profile-overrides-path``).

The schema is the ``ros2msg`` text that ``ros2 bag record`` writes: the type's .msg file followed
by each dependency's, found in the ament index (installed packages) or, for a checkout, in this
repository's ``wilor_msgs``.
"""

import os
import pathlib
import sys

from mcap.writer import Writer
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

from wilor_ros.ros.messages import hands_to_msg, mesh_faces_msg
from wilor_ros.stamps import from_nanoseconds

_PRIMITIVE_TYPES = frozenset((
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string', 'wstring'))
_DEFINITION_SEPARATOR = '=' * 80


class BagError(RuntimeError):
    """A bag cannot be written (a message definition is missing); the message says why."""


def _share_directories():
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    return [pathlib.Path(prefix) / 'share' for prefix in prefixes]


def _read_msg_file(package, name):
    candidates = [share / package / 'msg' / f'{name}.msg' for share in _share_directories()]
    # The interface sources of this repository, for a checkout that is not installed.
    candidates.append(pathlib.Path(__file__).resolve().parents[2] / package / 'msg'
                      / f'{name}.msg')
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    raise BagError(f'cannot find the definition of {package}/msg/{name} (looked for '
                   f'share/{package}/msg/{name}.msg under AMENT_PREFIX_PATH and {sys.prefix})')


def _field_types(package, text):
    """Non-primitive field types of a .msg text as ``pkg/Name``, in order of appearance."""
    found = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        type_name = line.split()[0].split('[', 1)[0].split('<=', 1)[0]
        if type_name in _PRIMITIVE_TYPES:
            continue
        parts = type_name.split('/')
        if len(parts) == 1:
            # A bare name is a type of the same package (Header: the ROS 1 shorthand).
            full = 'std_msgs/Header' if type_name == 'Header' else f'{package}/{type_name}'
        else:
            full = f'{parts[0]}/{parts[-1]}'
        if full not in found:
            found.append(full)
    return found


def message_definition(type_name):
    """
    Return the ``ros2msg`` schema text of a message type with all its dependencies.

    ``type_name`` is ``pkg/msg/Name``. The layout is the one ``ros2 bag record`` writes into
    MCAP files: the type's own .msg text, then per dependency a line of 80 ``=``, a line
    ``MSG: pkg/Name`` and that type's .msg text.
    """
    package, _, name = type_name.split('/')
    text = _read_msg_file(package, name)
    dependencies, pending = [], _field_types(package, text)
    texts = {}
    while pending:
        dependency = pending.pop(0)
        if dependency in texts:
            continue
        dep_package, dep_name = dependency.split('/')
        texts[dependency] = _read_msg_file(dep_package, dep_name)
        dependencies.append(dependency)
        pending.extend(_field_types(dep_package, texts[dependency]))
    parts = [text.rstrip('\n')]
    for dependency in dependencies:
        parts.append(f'{_DEFINITION_SEPARATOR}\nMSG: {dependency}\n'
                     f'{texts[dependency].rstrip(chr(10))}')
    return '\n'.join(parts) + '\n'


class HandBagWriter:
    """Write ``wilor_msgs/HandArray`` messages (and the mesh faces) into a new MCAP bag."""

    def __init__(self, path, topic='/hands', faces=None, faces_topic='/mano_faces'):
        """
        Create the bag at ``path`` with a channel for the hands on ``topic``.

        ``topic``: where :meth:`write` puts the hands (None: only :meth:`write_hands` topics,
        each made on first use). ``faces``: the (F, 3) MANO triangles, written once on
        ``faces_topic`` before the first HandArray; None leaves them out.
        """
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path, 'wb')
        self._writer = Writer(self._stream)
        self._writer.start(profile='ros2', library='wilor_ros wilor-infer')
        self.topic = topic
        self._hands_schema = None
        self._channels = {}
        if topic is not None:
            self._channel(topic)
        self._faces = None
        if faces is not None:
            self._faces = (self._register('wilor_msgs/msg/MeshFaces', faces_topic),
                           mesh_faces_msg(faces))
        self.count = 0

    def _register(self, type_name, topic):
        schema = self._writer.register_schema(
            name=type_name, encoding='ros2msg', data=message_definition(type_name).encode())
        return self._writer.register_channel(topic=topic, message_encoding='cdr',
                                             schema_id=schema)

    def _channel(self, topic):
        """Return the HandArray channel of ``topic``, registered on first use (one schema)."""
        if topic not in self._channels:
            if self._hands_schema is None:
                self._hands_schema = self._writer.register_schema(
                    name='wilor_msgs/msg/HandArray', encoding='ros2msg',
                    data=message_definition('wilor_msgs/msg/HandArray').encode())
            self._channels[topic] = self._writer.register_channel(
                topic=topic, message_encoding='cdr', schema_id=self._hands_schema)
        return self._channels[topic]

    def _write_faces(self, log_time):
        channel, msg = self._faces
        self._faces = None
        msg.header.stamp.sec, msg.header.stamp.nanosec = from_nanoseconds(log_time)
        self._writer.add_message(channel, log_time=log_time, data=serialize_message(msg),
                                 publish_time=log_time, sequence=0)

    def write(self, hands, frame):
        """Write the hands of a bag frame on ``topic``, stamped and logged like the image."""
        self.write_hands(self.topic, hands, frame.stamp_ns, frame.frame_id, frame.log_time_ns)

    def write_hands(self, topic, hands, stamp_ns, frame_id, log_time_ns):
        """Write a HandArray on ``topic`` with this header stamp and frame, at ``log_time_ns``."""
        if self._faces is not None:
            self._write_faces(log_time_ns)
        header = Header()
        header.stamp.sec, header.stamp.nanosec = from_nanoseconds(stamp_ns)
        header.frame_id = frame_id
        data = serialize_message(hands_to_msg(hands, header))
        self._writer.add_message(self._channel(topic), log_time=log_time_ns, data=data,
                                 publish_time=log_time_ns, sequence=self.count)
        self.count += 1

    def close(self):
        """Write the faces if no frame came, the summary, and close the file."""
        if self._faces is not None:
            self._write_faces(0)
        self._writer.finish()
        self._stream.close()
