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
Camera extrinsics from a YAML file: each camera's optical frame in a common frame.

For rigs without TF (and for the venv install, which has no tf2_ros wheel to listen to it
with): the node's ``fusion.extrinsics`` parameter names a file such as::

    frame: world                 # optional; when given it must be the node's fusion.frame
    cameras:
      cam_left:                  # a camera name (the node's cameras parameter) or the
        translation: [0.0, 0.3, 1.2]    # camera's optical frame (its images' frame_id)
        rotation: [0.0, 0.0, 0.0, 1.0]  # quaternion x, y, z, w: camera optical -> frame

The pose maps points of the camera's optical frame (REP-103: x right, y down, z forward) into
the common frame, as ``tf2_echo <frame> <camera optical frame>`` prints it.
"""

import pathlib

import numpy as np
from wilor_ros.multiview_geometry import pose_from_quaternion
import yaml


class ExtrinsicsError(ValueError):
    """A file that does not describe camera poses; the message names the file and the entry."""


def load_extrinsics(path, frame=None):
    """Return {camera or frame name: 4x4 pose} from the YAML file at ``path``."""
    path = pathlib.Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ExtrinsicsError(f'fusion.extrinsics: cannot read {path}: {error.strerror}') \
            from None
    except yaml.YAMLError as error:
        raise ExtrinsicsError(f'fusion.extrinsics: {path} is not YAML: {error}') from None
    if not isinstance(data, dict) or not isinstance(data.get('cameras'), dict) \
            or not data['cameras']:
        raise ExtrinsicsError(f'fusion.extrinsics: {path} needs a "cameras" mapping of camera '
                              'names to {translation: [x, y, z], rotation: [x, y, z, w]}')
    if frame is not None and data.get('frame') not in (None, frame):
        raise ExtrinsicsError(f'fusion.extrinsics: {path} gives poses in {data["frame"]!r} but '
                              f'fusion.frame is {frame!r}')
    poses = {}
    for name, entry in data['cameras'].items():
        try:
            translation = np.asarray(entry['translation'], dtype=np.float64).reshape(3)
            rotation = np.asarray(entry['rotation'], dtype=np.float64).reshape(4)
        except (KeyError, TypeError, ValueError):
            raise ExtrinsicsError(f'fusion.extrinsics: {path}: camera {name!r} needs '
                                  'translation: [x, y, z] and rotation: [x, y, z, w]') from None
        norm = np.linalg.norm(rotation)
        if not (np.all(np.isfinite(translation)) and np.isfinite(norm)
                and abs(norm - 1.0) < 1e-3):
            raise ExtrinsicsError(f'fusion.extrinsics: {path}: camera {name!r}: the rotation '
                                  f'must be a unit quaternion, got norm {norm:.4g}')
        poses[str(name)] = pose_from_quaternion(translation, rotation / norm)
    return poses
