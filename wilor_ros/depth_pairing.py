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
The rule that pairs a colour image with a depth image: nearest stamp, within a tolerance.

One owner for the node (:mod:`wilor_ros.ros.depth_sync`) and for bags read by ``wilor-infer``
(:mod:`wilor_ros.media_io`), so both fuse the same depth image with the same frame. Stamps are
integer nanoseconds (:mod:`wilor_ros.stamps`): exact, so a depth image exactly at the tolerance
pairs whatever the epoch.
"""


def nearest_depth(depths, stamp_ns, tolerance_ns):
    """
    Return (depth or None, offset ns or None) for a colour image stamped ``stamp_ns``.

    ``depths`` holds (stamp ns, depth) pairs, oldest first. The depth with the nearest stamp
    (the first listed of two equally near) is returned when it lies within ``tolerance_ns``; the
    offset (depth minus colour) is that of the nearest one, None when ``depths`` is empty.
    """
    if not depths:
        return None, None
    depth_stamp, depth = min(depths, key=lambda item: abs(item[0] - stamp_ns))
    offset = depth_stamp - stamp_ns
    return (depth if abs(offset) <= tolerance_ns else None), offset
