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
The hands' wrist frames on ``/tf`` (frames and axes: :mod:`wilor_ros.hand_frame`).

With tf2_ros importable (a ROS 2 install) this is ``tf2_ros.TransformBroadcaster``. tf2_ros has
no wheel on PyPI, so in the venv install a plain publisher of ``tf2_msgs/msg/TFMessage`` on
``/tf`` takes its place, with the broadcaster's QoS (reliable, volatile, keep last 100): the
same wire type and topic, so any tf2 listener receives it.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from wilor_ros.ros.messages import hand_transforms, tf_message

# tf2_ros.TransformBroadcaster's default QoS (tf2_ros/qos.py DynamicBroadcasterQoS).
TF_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)


class HandTfPublisher:
    """Publish one transform per hand: the image's frame -> the hand's wrist frame."""

    def __init__(self, node):
        """Create the broadcaster (tf2_ros) or the equivalent /tf publisher on ``node``."""
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            self._publisher = node.create_publisher(_tf_message_type(), '/tf', TF_QOS)
            self._send = lambda transforms: self._publisher.publish(tf_message(transforms))
        else:
            broadcaster = TransformBroadcaster(node, qos=TF_QOS)
            self._publisher = broadcaster.pub_tf
            self._send = broadcaster.sendTransform
        self.topic_name = self._publisher.topic_name

    def destroy(self, node):
        """Destroy the /tf publisher (lifecycle cleanup)."""
        node.destroy_publisher(self._publisher)

    def subscribed(self):
        """Return True when some TF listener subscribes to /tf."""
        return self._publisher.get_subscription_count() > 0

    def publish(self, hands, header, pattern):
        """
        Send the wrist frames of ``hands`` seen in the image with ``header``; return the count.

        ValueError when the image has no ``frame_id`` (a transform needs a parent frame).
        """
        if not hands:
            return 0
        if not header.frame_id:
            raise ValueError('the image header has no frame_id, so the hand frames have no '
                             'parent; set frame_id in the camera driver')
        transforms = hand_transforms(hands, header, pattern)
        self._send(transforms)
        return len(transforms)


def _tf_message_type():
    from tf2_msgs.msg import TFMessage

    return TFMessage
