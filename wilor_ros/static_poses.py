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
Fixed camera poses without ROS: chains of static transforms, and the one lookup rule.

:class:`StaticTransforms` composes the transforms of ``tf2_msgs/TFMessage`` messages (from
``/tf_static`` live, or read from a bag: anything with the message's attributes will do, an
rclpy message or an ``mcap_ros2`` decoded one). :func:`fixed_camera_pose` is the rule the node
(:mod:`wilor_ros.ros.camera_poses`) and ``wilor-infer --fuse`` share: an extrinsics file
(:mod:`wilor_ros.extrinsics`) by camera name, then by optical frame; else the static tree.
"""

import threading

import numpy as np

from wilor_ros.multiview_geometry import pose_from_quaternion


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

    def frames(self):
        """Return the names of every frame in the tree (parents and children)."""
        with self._lock:
            return set(self._edges) | {parent for parent, _ in self._edges.values()}

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


def fixed_camera_pose(frame, camera, optical_frame, extrinsics=None, static=None):
    """
    Return the pose (4x4) of ``camera`` in ``frame`` from fixed poses, or None.

    ``extrinsics``: {camera name or optical frame: 4x4} (an extrinsics file), looked up by
    camera name first; otherwise ``static`` (a :class:`StaticTransforms`) from ``frame`` to
    ``optical_frame`` (the camera's images' frame_id, None while unknown).
    """
    if extrinsics is not None:
        found = extrinsics.get(camera)
        if found is None and optical_frame:
            found = extrinsics.get(optical_frame)
        return found
    if static is None or not optical_frame:
        return None
    return static.lookup(frame, optical_frame)
