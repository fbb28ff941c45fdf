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
sensor_msgs/CameraInfo for the node: the intrinsics of each image, checked once.

The matching CameraInfo is the one with the image's stamp (waited for briefly when it has not
arrived yet, :mod:`wilor_ros.ros.stamped_messages`), else the newest; its K goes through the one
validity rule of the camera model (:mod:`wilor_ros.camera`).
"""

from wilor_ros.camera import CameraError, intrinsics_from_camera_info_k
from wilor_ros.ros.stamped_messages import stamp_nanoseconds, StampedMessages


class CameraInfoCache:
    """The last few CameraInfo messages, shared by the executor and the worker thread."""

    def __init__(self, size=16):
        """Keep the newest size messages."""
        self._infos = StampedMessages(size)

    def add(self, msg):
        """Store a CameraInfo (executor thread)."""
        self._infos.add(msg)

    def intrinsics_for(self, header, width, height, wait=0.0):
        """
        Return (intrinsics or None, problem or None) for an image with header and size.

        Waits up to ``wait`` s for the CameraInfo with the image's stamp when it has not
        arrived yet. None without a problem: no CameraInfo yet, or an uncalibrated one (K = 0).
        A problem is (kind, text) when the CameraInfo does not fit the image or its K is not a
        camera.
        """
        self._infos.wait_for(header.stamp, wait)
        infos = self._infos.messages()
        if not infos:
            return None, None
        stamp = stamp_nanoseconds(header.stamp)
        info = next((i for s, i in reversed(infos) if s == stamp), infos[-1][1])
        if (info.width or info.height) and (info.width, info.height) != (width, height):
            return None, ('camera_info_size',
                          f'camera_info is for {info.width}x{info.height} images but the image '
                          f'is {width}x{height}')
        try:
            intrinsics = intrinsics_from_camera_info_k(info.k)
        except CameraError as error:
            return None, ('camera_info_invalid', f'camera_info K rejected: {error}')
        if intrinsics is None:
            # K = 0 is how ROS marks an uncalibrated camera: said, since depth is then a guess.
            return None, ('camera_info_invalid', 'camera_info K is all zero (uncalibrated '
                          'camera)')
        return intrinsics, None
