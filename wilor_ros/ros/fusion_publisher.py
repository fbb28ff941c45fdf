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
The node's multi-view fusion: the step, its camera poses and its outputs ``hands_fused`` + TF.

:func:`build_fusion` makes the :class:`~wilor_ros.multiview.MultiViewFusion` step with the node's
``fusion.*`` settings and the :class:`FusionPublisher` that sends its result:

* ``hands_fused`` (wilor_msgs/HandArray, reliable): header ``frame_id`` = ``fusion.frame``,
  stamp = the batch's reference stamp (that camera's image stamp, exactly); each hand's
  ``cameras`` names the cameras that made it (one: that camera's own hand, moved into the
  frame), ``keypoint_uncertainty`` its per-joint uncertainty. Not published for a batch in
  which no camera had a pose (the per-camera ``hands`` go on as always);
* ``/tf``: a frame per fused wrist, parent ``fusion.frame``, named ``fused/`` +
  ``tf.frame_pattern`` (ids ``f1``, ``f2``, ...), while ``publish.tf`` is on.

A camera without a pose, and a frame outside ``fusion.sync_tolerance`` of the batch's
reference stamp, are left out of the fusion with a warning throttled per kind (one line per
period for all cameras).
"""

from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from wilor_msgs.msg import HandArray

from wilor_ros.extrinsics import load_extrinsics
from wilor_ros.multiview import MultiViewFusion
from wilor_ros.ros.camera_poses import CameraPoses
from wilor_ros.ros.hand_tf import HandTfPublisher
from wilor_ros.ros.messages import hands_to_msg
from wilor_ros.ros.throttled_log import KindThrottledLogger

WARNING_PERIOD = 5.0


def build_fusion(node, settings):
    """Return (step, publisher) of the fusion; ValueError (one line) for a bad extrinsics file."""
    if not settings.fusion_frame:
        raise ValueError('fusion.frame is empty: name the common frame of the cameras (e.g. '
                         'world or base_link)')
    extrinsics = (load_extrinsics(settings.fusion_extrinsics, settings.fusion_frame)
                  if settings.fusion_extrinsics else None)
    publisher = FusionPublisher(node, settings, extrinsics)
    step = MultiViewFusion(settings.fusion_frame, publisher.poses.pose,
                           sync_tolerance=settings.fusion_sync_tolerance,
                           warn=publisher.warnings.warning)
    publisher.step = step
    return step, publisher


class FusionPublisher:
    """Publish the fusion step's hands on ``hands_fused`` and their wrist frames on /tf."""

    def diagnostics(self):
        """Return the fusion's counts as /diagnostics values (``fusion.*``)."""
        if self.step is None:
            return {}
        return {f'fusion.{key}': value for key, value in self.step.counters().items()}

    def __init__(self, node, settings, extrinsics=None):
        """Create the publishers and the camera pose source."""
        self.settings = settings
        self.step = None
        # A child logger of its own: rclpy fixes one severity per logging call site and logger,
        # and the node's own KindThrottledLogger logs errors from the same call site.
        self.warnings = KindThrottledLogger(node.get_logger().get_child('fusion'),
                                            WARNING_PERIOD)
        self._frames = {}  # camera -> optical frame, from its image headers
        self._node = node
        self.poses = CameraPoses(node, settings.fusion_frame, self.frame_of, extrinsics)
        self.hands_pub = node.create_lifecycle_publisher(
            HandArray, 'hands_fused', QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.tf_pub = HandTfPublisher(node) if settings.publish_tf else None
        self.published = 0
        node.get_logger().info(f'fusion: hands_fused in {settings.fusion_frame!r}, camera '
                               f'poses from {self.poses.source}')

    def frame_of(self, camera):
        """Return the optical frame of ``camera``: its images' frame_id, once one was seen."""
        name = self._frames.get(camera)
        if name:
            return name
        # The worker notes each camera's optical frame when it takes its image, so the first
        # batch knows it before any header was published.
        stream = getattr(self._node, 'streams', {}).get(camera)
        return (stream.frame_id or None) if stream is not None else None

    def publish(self, results, headers):
        """Send the batch's fused hands (nothing when no camera had a pose)."""
        for result, header in zip(results, headers):
            if header.frame_id:
                self._frames[result.camera] = header.frame_id
        output = results[0].outputs.get(self.step.name) if results else None
        if output is None:
            return
        for camera in output.out_of_sync:
            self.warnings.warning('fusion_sync', f'camera {camera!r}: frame more than '
                                  f'fusion.sync_tolerance ({self.step.sync_tolerance} s) from '
                                  "the batch's reference stamp: left out of the fusion")
        if output.hands is None:
            return
        reference = next(header for result, header in zip(results, headers)
                         if result.stamp == output.stamp)
        # A new header: the image headers are shared with the other steps' publishers.
        msg = hands_to_msg(output.hands, Header(stamp=reference.stamp, frame_id=output.frame),
                           self.settings.publish_vertices)
        self.hands_pub.publish(msg)
        self.published += 1
        if self.tf_pub is not None and output.hands:
            self.tf_pub.publish(output.hands, msg.header,
                                'fused/' + self.settings.tf_frame_pattern)

    def destroy(self, node):
        """Destroy the publishers and stop listening to TF."""
        getattr(node, 'destroy_lifecycle_publisher', node.destroy_publisher)(self.hands_pub)
        if self.tf_pub is not None:
            self.tf_pub.destroy(node)
        self.poses.destroy(node)
