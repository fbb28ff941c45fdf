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
Where the cameras are: their optical frames in the fusion's common frame, from TF or a file.

Three sources, the first that applies:

* ``fusion.extrinsics``: a YAML file (:mod:`wilor_ros.extrinsics`), fixed poses;
* ``tf2_ros`` where installed (an apt or source ROS 2): a ``tf2_ros.Buffer`` with its
  ``TransformListener``, looked up at each frame's stamp (cameras on moving robots), falling
  back to the newest transform;
* otherwise (the venv install: tf2_ros has no PyPI wheel, so there is nothing to listen with)
  a reader of ``/tf_static`` (tf2_msgs/TFMessage, transient local, as static_transform_publisher
  and robot_state_publisher send the fixed joints), whose chains of static transforms are
  composed here. Cameras that move need tf2_ros or the file.

A camera's optical frame is the ``frame_id`` of its images (and camera_info).
"""

import threading

import numpy as np
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from wilor_ros.multiview_geometry import pose_from_quaternion

# tf2_ros's StaticListenerQoS.
STATIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


def transform_pose(transform):
    """Return the 4x4 pose of a geometry_msgs/Transform."""
    t, q = transform.translation, transform.rotation
    return pose_from_quaternion((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))


class StaticTransforms:
    """The tree of static transforms: child -> (parent, pose of the child in the parent)."""

    def __init__(self):
        """Start empty."""
        self._lock = threading.Lock()
        self._edges = {}

    def add(self, msg):
        """Store the transforms of a tf2_msgs/TFMessage (a later one replaces an earlier)."""
        with self._lock:
            for transform in msg.transforms:
                self._edges[transform.child_frame_id.lstrip('/')] = (
                    transform.header.frame_id.lstrip('/'), transform_pose(transform.transform))

    def _to_root(self, frame):
        """Return (root, pose of ``frame`` in root) following the parents."""
        pose, seen = np.eye(4), {frame}
        while frame in self._edges:
            parent, edge = self._edges[frame]
            pose = edge @ pose
            frame = parent
            if frame in seen:  # A loop is no tree: no answer.
                return None, None
            seen.add(frame)
        return frame, pose

    def lookup(self, target, source):
        """Return the pose of frame ``source`` in frame ``target``, or None when not connected."""
        with self._lock:
            root_s, pose_s = self._to_root(source.lstrip('/'))
            root_t, pose_t = self._to_root(target.lstrip('/'))
        if root_s is None or root_s != root_t:
            return None
        return np.linalg.inv(pose_t) @ pose_s


class CameraPoses:
    """
    ``pose(camera, stamp)``: the camera's optical frame in ``frame`` (4x4), or None.

    ``frame_of(camera)``: the camera's optical frame name, or None while unknown.
    """

    def __init__(self, node, frame, frame_of, extrinsics=None):
        """Use ``extrinsics`` ({name: 4x4}) when given, else tf2_ros, else /tf_static."""
        self.frame = frame
        self.frame_of = frame_of
        self._extrinsics = extrinsics
        self._subscription = self._buffer = self._listener = None
        self.source = 'fusion.extrinsics'
        if extrinsics is not None:
            return
        try:
            from tf2_ros import Buffer, TransformListener
        except ImportError:
            from tf2_msgs.msg import TFMessage

            self.static = StaticTransforms()
            self._subscription = node.create_subscription(TFMessage, '/tf_static',
                                                          self.static.add, STATIC_QOS)
            self.source = '/tf_static'
        else:
            self._buffer = Buffer()
            self._listener = TransformListener(self._buffer, node, spin_thread=False)
            self.source = 'tf2_ros'

    def pose(self, camera, stamp):
        """Return the pose of ``camera`` at ``stamp`` (s) in the common frame, or None."""
        if self._extrinsics is not None:
            found = self._extrinsics.get(camera)
            if found is None:
                name = self.frame_of(camera)
                found = self._extrinsics.get(name) if name else None
            return found
        name = self.frame_of(camera)
        if not name:
            return None
        if self._buffer is None:
            return self.static.lookup(self.frame, name)
        return self._tf2_pose(name, stamp)

    def _tf2_pose(self, name, stamp):
        from rclpy.time import Time

        for when in (Time(nanoseconds=int(round(stamp * 1e9))), Time()):
            try:
                transform = self._buffer.lookup_transform(self.frame, name, when)
            except Exception:  # tf2's Lookup/Connectivity/Extrapolation exceptions.
                continue
            return transform_pose(transform.transform)
        return None

    def destroy(self, node):
        """Stop listening."""
        if self._subscription is not None:
            node.destroy_subscription(self._subscription)
            self._subscription = None
        if self._listener is not None:
            self._listener.unregister()
            self._listener = None
