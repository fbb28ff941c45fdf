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
The gesture step's ROS output: ``hri_msgs/Gesture`` on ``<camera>/gestures``.

The gestures also reach ``Hand.gesture`` in every HandArray (the worker passes the step's
output to :func:`wilor_ros.ros.messages.hands_to_msg`); this topic is for ROS4HRI consumers.
One message per hand and frame (OTHER included, so a listener sees a gesture end), stamped with
the image's header, ``handedness`` RIGHT / LEFT. Made only when hri_msgs is importable (a ROS 2
install with ros4hri, or the venv's stand-in built by scripts/setup.sh); without it the
gestures still fill Hand.gesture and configure logs once that the topic is off.
"""

from rclpy.qos import QoSProfile, ReliabilityPolicy

from wilor_ros.gestures import GestureStep


def hri_gesture_class():
    """Return ``hri_msgs.msg.Gesture``, or None when hri_msgs is not installed."""
    try:
        from hri_msgs.msg import Gesture
    except ImportError:
        return None
    return Gesture


class GesturePublisher:
    """Publish every hand's gesture of a batch on its camera's ``gestures`` topic."""

    def __init__(self, node, cameras, gesture_class):
        """Create one lifecycle publisher per camera."""
        self.gesture_class = gesture_class
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {
            camera: node.create_lifecycle_publisher(
                gesture_class, f'{camera}/gestures' if camera else 'gestures', qos)
            for camera in cameras}

    def publish(self, results, headers):
        """Publish the ``gestures`` output of each camera with its image header."""
        for result, header in zip(results, headers):
            publisher = self.publishers.get(result.camera)
            if publisher is None:
                continue
            for gesture in result.outputs.get(GestureStep.name, ()):
                publisher.publish(self.gesture_class(header=header, gesture=gesture.gesture,
                                                     handedness=gesture.handedness))

    def destroy(self, node):
        """Destroy the publishers."""
        destroy = getattr(node, 'destroy_lifecycle_publisher', node.destroy_publisher)
        for publisher in self.publishers.values():
            destroy(publisher)
        self.publishers = {}


def build_gestures(node, settings):
    """Return (GestureStep, GesturePublisher or None without hri_msgs) of the settings."""
    step = GestureStep(hold_frames=settings.gestures_hold_frames)
    gesture_class = hri_gesture_class()
    if gesture_class is None:
        node.get_logger().info('hri_msgs is not installed: gestures only in Hand.gesture, '
                               'no gestures topic')
        return step, None
    return step, GesturePublisher(node, settings.cameras, gesture_class)
