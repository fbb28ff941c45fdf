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
Robot-hand joint targets from a hand's 3D joints, with dex-retargeting (MIT, optional).

`dex-retargeting <https://github.com/dexsuite/dex-retargeting>`_ solves for a robot hand's joint
angles whose fingertip vectors (``vector``), DexPilot pinch-aware vectors (``dexpilot``) or link
positions (``position``) match the human hand's, from 21 joints in the OpenPose / MediaPipe order
(ours, :mod:`wilor_ros.skeleton`) expressed in an *operator frame* attached to the wrist. It ships
the configurations of the LEAP, Allegro, Inspire, Ability, Shadow and Schunk SVH hands; the
robot descriptions (URDF) come from dexsuite/dex-urdf (README, Robot outputs).

The operator frame (:func:`operator_keypoints`), as dex-retargeting's own hand detector example
builds it: origin at the wrist, from the plane of the wrist, index MCP and middle MCP joints,
then dex-retargeting's ``OPERATOR2MANO`` rotation of the side. For a right hand X leaves the
palm, Y points to the thumb side and Z along the fingers; a left hand's frame is the mirror
image (Y to the little-finger side), matching the left robot hands. It uses only the 3D joints,
so the targets do not depend on where the camera looks from.
"""

import pathlib
import shutil
import tempfile

import numpy as np

from wilor_ros.skeleton import finger_joints, WRIST

ROBOTS = {'leap': 'leap', 'allegro': 'allegro', 'inspire': 'inspire', 'ability': 'ability',
          'shadow': 'shadow', 'svh': 'svh'}
MODES = ('vector', 'dexpilot', 'position')
SIDES = ('right', 'left')
RETARGETING_SIDES = SIDES + ('both',)  # the human hands followed
PACKAGE = 'dex-retargeting'
URDF_SOURCE = 'https://github.com/dexsuite/dex-urdf (robots/hands)'

_INDEX_MCP = finger_joints('index')[0]
_MIDDLE_MCP = finger_joints('middle')[0]


class RetargetingError(ValueError):
    """A retargeter cannot be made; the text is one line naming the file and what to do."""


def wrist_rotation(keypoints):
    """
    Return the 3x3 rotation whose columns are the wrist axes (x, normal, z) in the input frame.

    x: from the middle MCP to the wrist; normal: of the plane (wrist, index MCP, middle MCP);
    z = x cross normal, towards the index finger. dex-retargeting's example detector computes the
    same frame from MediaPipe joints; it is not part of the library's API, hence this copy.
    """
    points = keypoints[[WRIST, _INDEX_MCP, _MIDDLE_MCP]].astype(np.float64)
    x_vector = points[0] - points[2]
    centred = points - points.mean(axis=0, keepdims=True)
    normal = np.linalg.svd(centred)[2][2]
    x_axis = x_vector - np.dot(x_vector, normal) * normal
    x_axis /= np.linalg.norm(x_axis)
    z_axis = np.cross(x_axis, normal)
    if np.dot(z_axis, centred[1] - centred[2]) < 0:
        normal, z_axis = -normal, -z_axis
    return np.stack([x_axis, normal, z_axis], axis=1)


def operator_keypoints(keypoints, is_right):
    """Return the (21, 3) joints in the operator frame of their side (see the module docs)."""
    from dex_retargeting.constants import HandType, OPERATOR2MANO

    keypoints = np.asarray(keypoints, dtype=np.float64)
    centred = keypoints - keypoints[WRIST]
    side = HandType.right if is_right else HandType.left
    return centred @ wrist_rotation(keypoints) @ OPERATOR2MANO[side]


def require_package():
    """Import dex_retargeting, or raise RetargetingError naming the package to install."""
    try:
        import dex_retargeting  # noqa: F401
        from dex_retargeting import retargeting_config  # noqa: F401
    except ImportError as error:
        raise RetargetingError(
            f'retargeting needs the Python package {PACKAGE} (pip install {PACKAGE}==0.5.0; '
            f'scripts/requirements.txt pins it): {error}') from None


def config_path(robot, mode, side):
    """Return dex-retargeting's shipped configuration file of ``robot`` / ``mode`` / ``side``."""
    from dex_retargeting.constants import (get_default_config_path, HandType, RetargetingType,
                                           RobotName)

    return get_default_config_path(RobotName[ROBOTS[robot]], RetargetingType[mode],
                                   HandType[side])


def _read_config(robot, mode, side):
    import yaml

    path = config_path(robot, mode, side)
    with open(path) as stream:
        return path, dict(yaml.safe_load(stream)['retargeting'])


def check_urdf(path):
    """Parse the URDF at ``path``; RetargetingError (one line: file, what to do) if unusable."""
    from xml.etree import ElementTree

    hint = f'get the robot descriptions from {URDF_SOURCE} and point urdf_dir at that folder'
    if not path.is_file():
        raise RetargetingError(f'robot description {path} not found: {hint}')
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise RetargetingError(f'robot description {path} cannot be read ({error}): {hint}') \
            from None
    if root.tag != 'robot':
        raise RetargetingError(f'robot description {path} is not a URDF (root <{root.tag}>): '
                               f'{hint}')


class HandRetargeter:
    """
    One robot hand driven by one human hand side: 21 joints in, joint angles out.

    ``robot``: a key of :data:`ROBOTS`; ``mode``: one of :data:`MODES`; ``side``: 'right' or
    'left' (the robot hand and the human hand it follows); ``urdf_dir``: the folder the
    configuration's ``urdf_path`` is relative to (dex-urdf's ``robots/hands``).
    dex-retargeting's own low-pass filter is off: the tracked hands are already smoothed
    (One-Euro), and a second filter would only add lag. Raises RetargetingError when the
    package, the folder or the URDF is missing or unusable.
    """

    def __init__(self, robot, mode, side, urdf_dir):
        """Build dex-retargeting's optimiser for the robot (parses the URDF)."""
        if robot not in ROBOTS:
            raise RetargetingError(f'unknown robot {robot!r}: one of {", ".join(ROBOTS)}')
        if mode not in MODES:
            raise RetargetingError(f'unknown retargeting mode {mode!r}: one of '
                                   f'{", ".join(MODES)}')
        require_package()
        from dex_retargeting.retargeting_config import RetargetingConfig

        folder = pathlib.Path(urdf_dir).expanduser() if urdf_dir else None
        if folder is None or not folder.is_dir():
            raise RetargetingError(
                f'urdf_dir {str(urdf_dir)!r} is not a folder: get the robot descriptions from '
                f'{URDF_SOURCE} and set urdf_dir to that folder')
        config_file, config = _read_config(robot, mode, side)
        urdf = (folder / config['urdf_path']).resolve()
        check_urdf(urdf)
        config['urdf_path'] = str(urdf)
        config['low_pass_alpha'] = -1.0  # Outside [0, 1]: no filter (see the class docs).
        # build() writes a copy of the URDF to a new tempfile.mkdtemp('dex_retargeting-')
        # folder and never removes it (one per start, forever): the folders it made go once
        # pinocchio has parsed the copy. Builds run one at a time (configure), so the new
        # folders are this build's.
        temp_root = pathlib.Path(tempfile.gettempdir())
        before = set(temp_root.glob('dex_retargeting-*'))
        try:
            self._retargeting = RetargetingConfig.from_dict(config).build()
        except Exception as error:  # dex-retargeting / pinocchio raise many kinds.
            raise RetargetingError(f'robot description {urdf} does not fit {config_file} '
                                   f'({type(error).__name__}: {error})') from None
        finally:
            for made in set(temp_root.glob('dex_retargeting-*')) - before:
                shutil.rmtree(made, ignore_errors=True)
        self.robot, self.mode, self.side = robot, mode, side
        self.is_right = side == 'right'
        optimizer = self._retargeting.optimizer
        self._indices = np.asarray(optimizer.target_link_human_indices)
        self.joint_names = list(self._retargeting.joint_names)
        self.urdf = urdf

    @property
    def optimizer(self):
        """dex-retargeting's optimiser (its robot wrapper does the forward kinematics)."""
        return self._retargeting.optimizer

    def reference(self, operator_points):
        """Return dex-retargeting's reference value from joints in the operator frame."""
        if self.mode == 'position':
            return operator_points[self._indices]
        return operator_points[self._indices[1]] - operator_points[self._indices[0]]

    def retarget(self, keypoints_3d):
        """Return the robot's joint angles (``joint_names`` order) for 21 joints in any frame."""
        with np.errstate(invalid='ignore', divide='ignore'):
            points = operator_keypoints(keypoints_3d, self.is_right)
        if not np.all(np.isfinite(points)):
            # dex-retargeting would answer NaN with its last solution, silently.
            raise ValueError('no operator frame: the wrist, index and middle MCP joints are '
                             'not a triangle')
        return np.asarray(self._retargeting.retarget(self.reference(points)), dtype=np.float64)

    def reset(self):
        """Forget the last solution (the next one starts from the middle of the limits)."""
        self._retargeting.reset()
