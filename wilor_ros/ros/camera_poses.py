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

A camera's optical frame is the ``frame_id`` of its images (and camera_info). The static tree
and the lookup rule are :mod:`wilor_ros.static_poses` (no ROS; ``wilor-infer --fuse`` reads a
bag's ``/tf_static`` with them).
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from wilor_ros.stamps import seconds_to_nanoseconds
# The composition of static transforms and the lookup rule are shared with wilor-infer --fuse
# (no ROS there); imported here under their old names.
from wilor_ros.static_poses import fixed_camera_pose, StaticTransforms, transform_pose

# tf2_ros's StaticListenerQoS.
STATIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


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
        self._subscription = self._buffer = self._listener = self.static = None
        self.source = 'fusion.extrinsics'
        if extrinsics is not None:
            return
        try:
            from tf2_ros import Buffer, TransformException, TransformListener
        except ImportError:
            from tf2_msgs.msg import TFMessage

            self.static = StaticTransforms()
            self._subscription = node.create_subscription(TFMessage, '/tf_static',
                                                          self.static.add, STATIC_QOS)
            self.source = '/tf_static'
        else:
            self._buffer = Buffer()
            self._listener = TransformListener(self._buffer, node, spin_thread=False)
            # The base of tf2's Lookup/Connectivity/Extrapolation/... exceptions: a transform
            # not (yet) known. Anything else is a fault and goes up to the fusion's warning.
            self._lookup_errors = TransformException
            self.source = 'tf2_ros'

    def pose(self, camera, stamp):
        """Return the pose of ``camera`` at ``stamp`` (s) in the common frame, or None."""
        name = self.frame_of(camera)
        if self._buffer is None:
            return fixed_camera_pose(self.frame, camera, name, self._extrinsics, self.static)
        if not name:
            return None
        return self._tf2_pose(name, stamp)

    def _tf2_pose(self, name, stamp):
        from rclpy.time import Time

        for when in (Time(nanoseconds=seconds_to_nanoseconds(stamp)), Time()):
            try:
                transform = self._buffer.lookup_transform(self.frame, name, when)
            except self._lookup_errors:  # Not at that stamp: then the newest, else no pose.
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
