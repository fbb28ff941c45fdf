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
``wilor-infer``'s robot outputs: gestures and retargeted joint trajectories in the records.

``--gestures`` adds ``gesture`` / ``gesture_confidence`` to every hand of the records (as in
``Hand.msg``; debounced over ``--gesture-frames`` frames per track with ``--track``).
``--retarget ROBOT --urdf-dir DIR`` adds per frame a ``retargeting`` object: for each followed
side (``--retarget-side``) the driving hand's ``track_id``, ``action`` ('retarget' or 'hold'),
the robot's ``joint_names`` and ``positions``: the joint trajectory, next to the hands. Offline,
the retargeting runs in the frame loop (the node runs it on a thread of its own).
"""

from wilor_ros.gestures import GestureStep
from wilor_ros.retargeting import HandRetargeter, MODES, RETARGETING_SIDES, ROBOTS, SIDES
from wilor_ros.retargeting_step import RetargetingStep


def add_arguments(parser):
    """Add the robot-output options to ``wilor-infer``'s parser."""
    parser.add_argument('--gestures', action='store_true',
                        help="classify each hand's gesture (hri_msgs constants) into the records")
    parser.add_argument('--gesture-frames', type=int, default=3,
                        help='with --track: frames a new gesture must last before it is reported')
    parser.add_argument('--retarget', default=None, choices=sorted(ROBOTS), metavar='ROBOT',
                        help='add robot-hand joint targets per frame (dex-retargeting): '
                        + ', '.join(ROBOTS))
    parser.add_argument('--urdf-dir', default=None,
                        help="for --retarget: dex-urdf's robots/hands folder")
    parser.add_argument('--retarget-mode', default='vector', choices=MODES)
    parser.add_argument('--retarget-side', default='both', choices=RETARGETING_SIDES,
                        help='human hands followed (one robot hand per side)')
    parser.add_argument('--retarget-min-confidence', type=float, default=0.5,
                        help='least mean joint confidence of the driving hand to retarget')


class RobotOutputs:
    """The after-tracking steps of the options and what they add to each frame's record."""

    def __init__(self, args):
        """Build the steps; RetargetingError (a ValueError) when the robot cannot be loaded."""
        self.steps = []
        self.gestures = self.retargeting = None
        if args.gestures:
            self.gestures = GestureStep(hold_frames=args.gesture_frames if args.track else 1)
            self.steps.append(self.gestures)
        self.retargeters = {}
        if args.retarget:
            sides = SIDES if args.retarget_side == 'both' else (args.retarget_side,)
            self.retargeters = {side: HandRetargeter(args.retarget, args.retarget_mode, side,
                                                     args.urdf_dir) for side in sides}
            self.retargeting = RetargetingStep(sides, args.retarget_min_confidence)
            self.steps.append(self.retargeting)
        self._last = {}

    def annotate(self, record, result):
        """Add the steps' outputs of ``result`` (a CameraHands) to its frame ``record``."""
        if self.gestures is not None:
            for hand, gesture in zip(record['hands'], result.outputs[self.gestures.name]):
                hand['gesture'] = int(gesture.gesture)
                hand['gesture_confidence'] = float(gesture.confidence)
        if self.retargeting is None:
            return
        entries = {}
        for side, target in result.outputs[self.retargeting.name].items():
            retargeter = self.retargeters[side]
            if target.action == 'retarget':
                self._last[side] = retargeter.retarget(target.keypoints)
            if side in self._last:
                entries[side] = {'track_id': target.track_id, 'action': target.action,
                                 'joint_names': list(retargeter.joint_names),
                                 'positions': [float(p) for p in self._last[side]]}
        record['retargeting'] = entries
