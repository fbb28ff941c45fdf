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
Pair each colour image with the aligned depth image of (nearly) the same stamp.

The ROS ecosystem's tool for this is ``message_filters.ApproximateTimeSynchronizer``; it is not
installable here (no wheel), and the node needs less than it offers: the colour image already
goes through a newest-frame mailbox, so only the depth half must be found. This class keeps the
last few depth images and returns the one nearest in stamp to a colour image, within a
tolerance, waiting briefly when it may still be on its way
(:mod:`wilor_ros.ros.stamped_messages`); it needs no rclpy (testable alone) and is safe between
the executor thread (``add``) and the worker thread (``match``). Users with message_filters may
feed the node from an ApproximateTime pair instead; the result is the same pairing rule
(:func:`wilor_ros.depth_pairing.nearest_depth`, which ``wilor-infer`` applies to bags too).
"""

from wilor_ros.depth_fusion import depth_to_metres
from wilor_ros.depth_pairing import nearest_depth
from wilor_ros.image_conversion import depth_image_to_array
from wilor_ros.ros.stamped_messages import StampedMessages
from wilor_ros.stamps import nanoseconds_to_seconds, seconds_to_nanoseconds, stamp_nanoseconds


class DepthMatcher:
    """The last ``size`` depth images, looked up by stamp."""

    def __init__(self, size=10):
        """Keep the newest ``size`` depth messages."""
        self._depths = StampedMessages(size)

    def add(self, msg):
        """Store a depth sensor_msgs/Image (executor thread)."""
        self._depths.add(msg)

    @property
    def received(self):
        """Depth images received so far."""
        return self._depths.received

    def match(self, stamp, tolerance):
        """
        Return (depth message or None, offset in s) for a colour image stamped ``stamp`` (s).

        The depth image with the nearest stamp, if it lies within ``tolerance`` seconds; the
        offset (depth minus colour) is that of the nearest one, None when nothing was stored.
        """
        return self._nearest(seconds_to_nanoseconds(stamp), tolerance)

    def _nearest(self, stamp_ns, tolerance):
        msg, offset_ns = nearest_depth(self._depths.messages(), stamp_ns,
                                       seconds_to_nanoseconds(tolerance))
        return msg, (None if offset_ns is None else nanoseconds_to_seconds(offset_ns))

    def depth_for(self, header, image_shape, has_camera_matrix, tolerance, max_pixels=None,
                  wait=0.0):
        """
        Return (depth in metres or None, offset s or None, problem or None) for a colour image.

        Waits up to ``wait`` s for a depth image stamped at or after the colour image when none
        is stored yet (a later one could be the nearer).
        None without a problem when no depth image ever arrived (the node runs monocular, as
        without a depth camera). A problem is (kind, text): no depth image within
        ``tolerance`` of the image's stamp, no camera matrix (depth cannot be fused with the
        focal heuristic), or a depth image that cannot be used (encoding, size, alignment).
        """
        self._depths.wait_for(header.stamp, wait)
        if not self.received:
            return None, None, None
        # The header's exact stamp: seconds since the epoch as a float resolve only 0.2 us.
        msg, offset = self._nearest(stamp_nanoseconds(header.stamp), tolerance)
        if msg is None:
            return None, offset, ('depth_unmatched', f'no depth image within '
                                  f'{tolerance * 1000:.0f} ms of the colour image (nearest: '
                                  f'{offset * 1000:+.0f} ms); monocular depth for this frame')
        if not has_camera_matrix:
            return None, offset, ('depth_without_camera_info', 'depth image ignored: fusing it '
                                  'needs the camera matrix from camera_info (with the focal '
                                  'heuristic the hands are not metric)')
        try:
            depth = depth_to_metres(depth_image_to_array(msg, max_pixels), image_shape)
        except ValueError as error:
            return None, offset, ('bad_depth', f'depth image unusable: {error}')
        return depth, offset, None
