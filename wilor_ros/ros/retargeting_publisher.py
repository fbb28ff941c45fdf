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
The retargeting step's ROS output: ``sensor_msgs/JointState`` per camera and robot hand.

On ``<camera>/retargeting/<side>/joint_states``: header = the image's header (its stamp is the
time the hand was seen), ``name`` = the robot's joint names (its URDF), ``position`` = the
targets (rad, or m for prismatic joints). The optimisation runs on a
:class:`~wilor_ros.retargeting_step.RetargetingWorker` thread (started at configure), which
publishes each result as soon as it is solved; :meth:`RetargetingPublisher.publish`, called by
the inference worker after the hands are out, only hands requests over. A failed solve is
counted: the next ``publish`` raises it, and the inference worker counts it in
``/diagnostics`` as ``after_tracking`` (hands go on).
"""

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from wilor_ros.retargeting import HandRetargeter, RetargetingError, SIDES
from wilor_ros.retargeting_step import RetargetingStep, RetargetingWorker


def retargeting_sides(side):
    """Return the human hand sides followed for the ``retargeting.side`` value."""
    return SIDES if side == 'both' else (side,)


class RetargetingPublisher:
    """Feed the worker with each batch's targets; publish its results (see the module docs)."""

    def __init__(self, node, settings, sides):
        """Build a retargeter per camera and side (parses the URDF: RetargetingError)."""
        retargeters = {}
        for camera in settings.cameras:
            for side in sides:
                retargeters[(camera, side)] = HandRetargeter(
                    settings.retargeting_robot, settings.retargeting_mode, side,
                    settings.retargeting_urdf_dir)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {
            (camera, side): node.create_lifecycle_publisher(
                JointState, (f'{camera}/' if camera else '') + f'retargeting/{side}/joint_states',
                qos)
            for camera, side in retargeters}
        self.worker = RetargetingWorker(retargeters, self._send)

    def _send(self, key, header, joint_names, positions):
        # On the retargeting thread.
        publisher = self.publishers.get(key)
        if publisher is not None:
            publisher.publish(JointState(header=header, name=list(joint_names),
                                         position=[float(p) for p in positions]))

    def publish(self, results, headers):
        """Hand every camera's decisions to the worker; raise the solves that failed since."""
        for result, header in zip(results, headers):
            for side, target in result.outputs.get(RetargetingStep.name, {}).items():
                if (result.camera, side) in self.publishers:
                    self.worker.submit((result.camera, side), target, header)
        errors = self.worker.take_errors()
        if errors:
            more = f' (and {len(errors) - 1} more)' if len(errors) > 1 else ''
            raise RuntimeError(f'retargeting failed: {errors[0]}{more}')

    def destroy(self, node):
        """Stop the worker and destroy the publishers."""
        self.worker.stop()
        destroy = getattr(node, 'destroy_lifecycle_publisher', node.destroy_publisher)
        for publisher in self.publishers.values():
            destroy(publisher)
        self.publishers = {}


def build_retargeting(node, settings):
    """Return (RetargetingStep, RetargetingPublisher); ValueError (one line) when unusable."""
    sides = retargeting_sides(settings.retargeting_side)
    try:
        publisher = RetargetingPublisher(node, settings, sides)
    except RetargetingError as error:
        raise ValueError(f'retargeting: {error}') from None
    urdfs = sorted({str(r.urdf) for r in publisher.worker.retargeters.values()})
    node.get_logger().info(f'retargeting the {" and ".join(sides)} hand(s) onto '
                           f'{settings.retargeting_robot} ({settings.retargeting_mode}): '
                           f'{", ".join(urdfs)}')
    step = RetargetingStep(sides, settings.retargeting_min_confidence,
                           settings.retargeting_hold_time)
    return step, publisher
