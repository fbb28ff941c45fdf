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
The cameras of a multi-camera ROS 2 MCAP bag, and its ``/tf_static``, read without ROS.

:class:`BagCameras` reads several image topics, each as :class:`~wilor_ros.bag_input.BagImages`
reads one (its ``camera_info`` next to it), and yields ``(camera, frame)`` in log-time order
of all of them. A camera's name is its image topic's namespace, as the node's ``cameras``
parameter names it (``/cam_a/image_raw`` -> ``cam_a``). :func:`read_static_transforms` gives
the bag's static transform tree (:class:`~wilor_ros.static_poses.StaticTransforms`).
"""

import collections
import heapq

from wilor_ros.bag_input import BagImages
from wilor_ros.media_io import MediaError
from wilor_ros.static_poses import StaticTransforms

TF_STATIC = '/tf_static'
TF_SCHEMA = 'tf2_msgs/msg/TFMessage'


def camera_names(topics):
    """
    Return {image topic: camera name}: the topic's namespace without the leading slash.

    ``/cam_a/image_raw`` and ``/cam_a/image_raw/compressed`` are ``cam_a``; a topic without a
    namespace, or whose namespace another topic shares, is named by the whole topic (a camera
    name must be unique: each camera has its own tracker and pose).
    """
    namespaces = {}
    for topic in topics:
        base = topic[:-len('/compressed')] if topic.endswith('/compressed') else topic
        namespaces[topic] = base.rsplit('/', 1)[0].strip('/')
    shared = collections.Counter(namespaces.values())
    return {topic: name if name and shared[name] == 1 else topic.strip('/')
            for topic, name in namespaces.items()}


class BagCameras:
    """
    The image topics ``topics`` of the MCAP bag at ``path``, one camera each.

    ``camera_info_topic``: 'auto' (each camera's ``camera_info`` next to its images) or None.
    Attributes: ``cameras`` ({camera name: its BagImages}, in the order of ``topics``),
    ``count`` (images in all, or None when unknown), ``fps`` (None).
    """

    kind = 'bag'
    fps = None

    def __init__(self, path, topics, camera_info_topic='auto'):
        """Check every topic (MediaError naming the one missing) and find its camera_info."""
        if len(set(topics)) != len(topics):
            raise MediaError('an image topic is given twice: ' + ', '.join(topics))
        names = camera_names(topics)
        self.path = path
        self.cameras = {names[topic]: BagImages(path, topic, camera_info_topic)
                        for topic in topics}
        counts = [images.count for images in self.cameras.values()]
        self.count = None if None in counts else sum(counts)

    def __iter__(self):
        """Yield (camera name, frame) of every topic, in log-time order."""
        def tagged(name, images):
            for frame in images:
                yield name, frame

        yield from heapq.merge(*(tagged(name, images) for name, images in self.cameras.items()),
                               key=lambda item: item[1].log_time_ns)


def read_static_transforms(path):
    """
    Return the StaticTransforms of the bag's ``/tf_static``, or None when it has none.

    Every message is read (a recorder may log ``/tf_static`` again, e.g. for each publisher);
    a later transform of a child frame replaces an earlier one, as in tf2.
    """
    from mcap.exceptions import McapError
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    tree, found = StaticTransforms(), False
    try:
        with open(path, 'rb') as stream:
            reader = make_reader(stream, decoder_factories=[DecoderFactory()])
            messages = reader.iter_decoded_messages(topics=[TF_STATIC], log_time_order=True)
            for schema, _, _, msg in messages:
                if schema is None or schema.name != TF_SCHEMA:
                    raise MediaError(f'{TF_STATIC} in {path} holds '
                                     f'{schema.name if schema else "no schema"}, expected '
                                     f'{TF_SCHEMA}')
                tree.add(msg)
                found = True
    except (McapError, ValueError, OSError, EOFError) as error:
        raise MediaError(f'cannot read {TF_STATIC} of MCAP bag {path}: {error}') from None
    return tree if found else None
