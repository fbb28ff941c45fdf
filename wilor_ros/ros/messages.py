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
Every message the package builds: HandArray, MeshFaces, Image, CameraInfo.

The one place that knows the message layouts; used by the nodes and by ``wilor-infer
--out-bag``. Fixed-size float32 fields take numpy arrays
directly and the variable-length ones ``array.array`` buffers, which rclpy accepts without
checking every element (a Python list of 2334 vertex floats would be checked one by one).
"""

import array

from geometry_msgs.msg import Point, Quaternion, TransformStamped, Vector3
import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from wilor_msgs.msg import Hand, HandArray, MeshFaces

from wilor_ros.hand_frame import hand_frame_names, wrist_pose
from wilor_ros.hand_schema import hand_fields
# Re-exported: the frame worker reads header stamps as seconds through this module.
from wilor_ros.stamps import stamp_seconds  # noqa: F401


def _float32(values, size):
    flat = np.asarray(values, dtype=np.float32).reshape(-1)
    if flat.size != size:
        raise ValueError(f'expected {size} values, got {flat.size}')
    return flat


_HAND_FIELDS = Hand.get_fields_and_field_types()
_INTEGER_TYPES = frozenset(('byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32',
                            'uint32', 'int64', 'uint64'))


def _field_value(ros_type, value):
    """Convert a :func:`wilor_ros.hand_schema.hand_fields` value to the message field's type."""
    base, _, size = ros_type.partition('[')
    if base == 'geometry_msgs/Point':
        return [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in value]
    if base == 'geometry_msgs/Vector3':
        x, y, z = (float(v) for v in value)
        return Vector3(x=x, y=y, z=z)
    if base in ('sequence<float>', 'sequence<double>'):
        code = 'f' if base == 'sequence<float>' else 'd'
        return array.array(code, np.ascontiguousarray(value, dtype=code).tobytes())
    if size and base in ('float', 'double'):
        flat = np.asarray(value, dtype=np.float32 if base == 'float' else np.float64)
        return _float32(flat, int(size.rstrip(']'))) if base == 'float' else flat.reshape(-1)
    if base in ('float', 'double'):
        return float(value)
    if base in _INTEGER_TYPES:
        return int(value)
    if base == 'boolean':
        return bool(value)
    if base == 'string':
        return str(value)
    return value


def hand_to_msg(hand, include_vertices=True, gesture=None):
    """
    Convert one :class:`wilor_ros.hand.HandResult` to a ``wilor_msgs/Hand``.

    Field by field from :func:`wilor_ros.hand_schema.hand_fields`, the mapping the JSON of
    ``wilor-infer`` uses too. ``vertices`` stays empty when the hand has none or
    ``include_vertices`` is False. ``gesture``: the hand's
    :class:`wilor_ros.gestures.HandGesture`, or None (OTHER, confidence 0).
    """
    fields = hand_fields(hand, include_vertices, gesture)
    msg = Hand()
    for name, ros_type in _HAND_FIELDS.items():
        if name not in fields:
            raise ValueError(f'no value for Hand.{name}: HandResult lacks it (field mapping: '
                             'wilor_ros/hand_schema.py)')
        setattr(msg, name, _field_value(ros_type, fields[name]))
    return msg


def hands_to_msg(hands, header, include_vertices=True, gestures=None):
    """
    Build the ``wilor_msgs/HandArray`` of one image; ``header`` is the image's, unchanged.

    ``gestures``: one :class:`wilor_ros.gestures.HandGesture` per hand (the gesture step's
    output, same order), or None.
    """
    msg = HandArray()
    msg.header = header
    gestures = [None] * len(hands) if gestures is None else list(gestures)
    msg.hands = [hand_to_msg(hand, include_vertices, gesture)
                 for hand, gesture in zip(hands, gestures)]
    return msg


def hand_transforms(hands, header, pattern='hand_{id}'):
    """
    Build one ``geometry_msgs/TransformStamped`` per hand: image frame -> wrist frame.

    ``header``: the image's (stamp and ``frame_id``, the camera optical frame, become the
    transform's parent); child frames named by ``pattern``
    (:func:`wilor_ros.hand_frame.hand_frame_names`); pose: :func:`wilor_ros.hand_frame.wrist_pose`.
    """
    transforms = []
    for hand, name in zip(hands, hand_frame_names(hands, pattern)):
        translation, quaternion = wrist_pose(hand)
        transform = TransformStamped()
        transform.header.stamp = header.stamp
        transform.header.frame_id = header.frame_id
        transform.child_frame_id = name
        x, y, z = (float(v) for v in translation)
        transform.transform.translation = Vector3(x=x, y=y, z=z)
        qx, qy, qz, qw = (float(v) for v in quaternion)
        transform.transform.rotation = Quaternion(x=qx, y=qy, z=qz, w=qw)
        transforms.append(transform)
    return transforms


def tf_message(transforms):
    """Wrap transforms in a ``tf2_msgs/TFMessage`` (what ``/tf`` carries)."""
    # Imported here: only the TF publisher needs tf2_msgs (in the venv, the stand-in built by
    # scripts/setup.sh with the identical definition).
    from tf2_msgs.msg import TFMessage

    return TFMessage(transforms=list(transforms))


def mesh_faces_msg(faces, header=None, num_vertices=None):
    """
    Build the ``wilor_msgs/MeshFaces`` of the MANO mesh from (F, 3) right-hand triangles.

    ``num_vertices`` defaults to one more than the largest index (778 for MANO, whose
    triangles use every vertex).
    """
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.size == 0:
        raise ValueError(f'expected mesh triangles of shape (F, 3), got {faces.shape}')
    if faces.min() < 0:
        raise ValueError('mesh triangle indices must be >= 0')
    msg = MeshFaces()
    if header is not None:
        msg.header = header
    msg.num_vertices = int(faces.max()) + 1 if num_vertices is None else int(num_vertices)
    msg.triangles = array.array('I', np.ascontiguousarray(faces, dtype=np.uint32).tobytes())
    return msg


def bgr_image_msg(image, header=None):
    """Wrap a BGR uint8 (H, W, 3) array in a ``sensor_msgs/Image`` (bgr8)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding='bgr8', is_bigendian=0, step=width * 3)
    if header is not None:
        msg.header = header
    msg.data = image.tobytes()
    return msg


def camera_info_msg(width, height, intrinsics):
    """Build a plumb_bob ``sensor_msgs/CameraInfo`` without distortion for pinhole intrinsics."""
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    info = CameraInfo()
    info.width = int(width)
    info.height = int(height)
    info.distortion_model = 'plumb_bob'
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info
