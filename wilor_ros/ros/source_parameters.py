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
The parameters of ``wilor_source``: one table, declared as wilor_node's are.

All are read once at start-up (read-only: ``ros2 param set`` is refused instead of silently
ignored) and dynamically typed, so ``-p source:=0`` and ``-p fx:=600`` (integers on the command
line) work; values are converted to the default's type and then checked against the range.
"""

from wilor_ros.camera import MAX_FOCAL_LENGTH, MAX_PRINCIPAL_POINT
from wilor_ros.ros.image_qos import RELIABILITIES
from wilor_ros.ros.parameter_spec import choice, ParameterSpec, settings_dataclass

DEFAULT_FRAME_ID = 'camera_optical_frame'
# Above any camera or video; a higher value is a typing error.
MAX_RATE = 1000.0
MAX_CAPTURE_SIZE = 16384


def _source(name, default, description, **options):
    return ParameterSpec(name, default, description, read_only=True, dynamic_typing=True,
                         **options)


SOURCE_PARAMETERS = (
    _source('source', '0', 'video file, image folder, single image, /dev/videoN or a webcam '
            'index'),
    _source('rate', 0.0, "frames per second; 0: the video's own frame rate, 30 for a webcam, 10 "
            'for images', value_range=(0.0, MAX_RATE)),
    _source('loop', False, 'start a file or folder over at its end; without it the node exits '
            '(status 0) after the last frame'),
    _source('frame_id', DEFAULT_FRAME_ID, 'header.frame_id of image and camera_info'),
    _source('fx', 0.0, 'focal length x (pixels); fx or fy 0: the heuristic fx = fy = max(W, H) '
            '(about 53 degrees horizontal field of view)', value_range=(0.0, MAX_FOCAL_LENGTH)),
    _source('fy', 0.0, 'focal length y (pixels); 0: heuristic, as fx',
            value_range=(0.0, MAX_FOCAL_LENGTH)),
    _source('cx', 0.0, 'principal point x (pixels); cx or cy 0: the image centre',
            value_range=(0.0, MAX_PRINCIPAL_POINT)),
    _source('cy', 0.0, 'principal point y (pixels); 0: the image centre, as cx',
            value_range=(0.0, MAX_PRINCIPAL_POINT)),
    _source('publish_camera_info', True, 'publish camera_info with each image (false leaves '
            "the focal length to wilor_node's own heuristic)"),
    _source('width', 0, 'webcam capture width (pixels); 0: driver default',
            value_range=(0, MAX_CAPTURE_SIZE)),
    _source('height', 0, 'webcam capture height (pixels); 0: driver default',
            value_range=(0, MAX_CAPTURE_SIZE)),
    _source('pace_topic', '', 'a wilor_msgs/HandArray topic (e.g. hands) acknowledging each '
            'frame of a file or folder: the next frame goes out (at most at rate) after the '
            "HandArray with the previous one's stamp, and stamps are the media time t0 + index "
            '/ rate; the first frame waits until image has a subscriber and the pace topic a '
            'publisher. Ignored for webcams (live); empty: no pacing'),
    _source('pace_timeout', 30.0, 'seconds after which a frame whose HandArray has not come is '
            'sent again (same stamp), with a warning', value_range=(0.0, 86400.0)),
    _source('image_reliability', 'best_effort', 'QoS of image: best_effort (sensor data, as '
            'camera drivers) or reliable (every frame; a best-effort subscriber still matches)',
            check=choice(*RELIABILITIES), constraints=' | '.join(RELIABILITIES)),
)


class SourceSettings(settings_dataclass('SourceSettingsFields', SOURCE_PARAMETERS)):
    """The values of :data:`SOURCE_PARAMETERS`, converted to their defaults' types."""

    def intrinsics(self):
        """Return [fx, fy, cx, cy] (0: unknown)."""
        return [self.fx, self.fy, self.cx, self.cy]
