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
Write multi-camera MCAP bags for tests: Image + CameraInfo per camera, and ``/tf_static``.

Written with ``mcap_ros2`` and the message definitions :mod:`wilor_ros.ros.bag_writer` finds (so
the tests that use it need ROS message packages: marked ``ros``).
"""

import dataclasses
from typing import List, Optional

import numpy as np
from scipy.spatial.transform import Rotation


@dataclasses.dataclass
class BagCamera:
    """One camera of a test bag: its image topic, optical frame and 3x3 K (None: no info)."""

    topic: str
    frame_id: str
    matrix: Optional[np.ndarray]


@dataclasses.dataclass
class BagImage:
    """One image message: the camera (index), image, header stamp and log time (ns)."""

    camera: int
    image: np.ndarray
    stamp_ns: int
    log_time_ns: int


def transform_dict(parent, child, pose):
    """Return a geometry_msgs/TransformStamped as mcap_ros2 writes it, from a 4x4 pose."""
    x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
    tx, ty, tz = (float(v) for v in pose[:3, 3])
    return {'header': {'stamp': {'sec': 0, 'nanosec': 0}, 'frame_id': parent},
            'child_frame_id': child,
            'transform': {'translation': {'x': tx, 'y': ty, 'z': tz},
                          'rotation': {'x': float(x), 'y': float(y), 'z': float(z),
                                       'w': float(w)}}}


def image_dict(image, stamp_ns, frame_id):
    """Return a bgr8 sensor_msgs/Image as mcap_ros2 writes it."""
    height, width = image.shape[:2]
    return {'header': {'stamp': {'sec': stamp_ns // 1_000_000_000,
                                 'nanosec': stamp_ns % 1_000_000_000}, 'frame_id': frame_id},
            'height': height, 'width': width, 'encoding': 'bgr8', 'is_bigendian': 0,
            'step': width * 3, 'data': np.ascontiguousarray(image).tobytes()}


def write_camera_bag(path, cameras: List[BagCamera], images: List[BagImage],
                     transforms=None):
    """
    Write the bag: each camera's CameraInfo, then ``/tf_static``, then the images.

    ``transforms``: (parent, child, 4x4 pose of the child in the parent) of the static tree, or
    None for a bag without ``/tf_static``. Images are written in the order given (their log
    times need not grow: the reader orders by log time).
    """
    from mcap_ros2.writer import Writer

    from wilor_ros.ros.bag_writer import message_definition

    with open(path, 'wb') as stream:
        writer = Writer(stream)
        schemas = {name: writer.register_msgdef(name, message_definition(name))
                   for name in ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo',
                                'tf2_msgs/msg/TFMessage')}
        for camera in cameras:
            if camera.matrix is None:
                continue
            info = {'header': {'stamp': {'sec': 1, 'nanosec': 0}, 'frame_id': camera.frame_id},
                    'height': 480, 'width': 640, 'distortion_model': 'plumb_bob',
                    'd': [0.0] * 5, 'k': [float(v) for v in np.ravel(camera.matrix)],
                    'r': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], 'p': [0.0] * 12}
            writer.write_message(camera.topic.rsplit('/', 1)[0] + '/camera_info',
                                 schemas['sensor_msgs/msg/CameraInfo'], info, log_time=1,
                                 publish_time=1)
        if transforms is not None:
            message = {'transforms': [transform_dict(*t) for t in transforms]}
            writer.write_message('/tf_static', schemas['tf2_msgs/msg/TFMessage'], message,
                                 log_time=2, publish_time=2)
        for image in images:
            camera = cameras[image.camera]
            writer.write_message(camera.topic, schemas['sensor_msgs/msg/Image'],
                                 image_dict(image.image, image.stamp_ns, camera.frame_id),
                                 log_time=image.log_time_ns, publish_time=image.log_time_ns)
        writer.finish()
