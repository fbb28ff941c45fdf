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

"""Depth pairing by stamp and depth image conversion (no DDS needed)."""

import numpy as np
import pytest
from sensor_msgs.msg import Image

from wilor_ros.image_conversion import depth_image_to_array
from wilor_ros.ros.depth_sync import DepthMatcher

pytestmark = pytest.mark.ros


def depth_msg(values, encoding='16UC1', stamp=(10, 0), bigendian=False):
    values = np.asarray(values)
    dtype = {'16UC1': 'u2', 'mono16': 'u2', '32FC1': 'f4'}.get(encoding, 'u2')
    data = values.astype(('>' if bigendian else '<') + dtype)
    msg = Image(height=values.shape[0], width=values.shape[1], encoding=encoding,
                is_bigendian=int(bigendian), step=values.shape[1] * data.itemsize)
    msg.data = data.tobytes()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    return msg


@pytest.mark.parametrize('encoding, bigendian', [('16UC1', False), ('mono16', True),
                                                 ('32FC1', False), ('32FC1', True)])
def test_depth_encodings_convert_in_native_order(encoding, bigendian):
    values = np.array([[0, 1000, 1500], [2, 65535, 7]], np.float64)
    if encoding == '32FC1':
        values = values / 1000.0
    array = depth_image_to_array(depth_msg(values, encoding, bigendian=bigendian))
    assert array.dtype == (np.float32 if encoding == '32FC1' else np.uint16)
    np.testing.assert_allclose(array, values, rtol=1e-6)


def test_bad_depth_images_are_refused_with_a_reason():
    msg = depth_msg(np.zeros((2, 3)))
    msg.encoding = 'rgb8'
    with pytest.raises(ValueError, match='unsupported depth encoding'):
        depth_image_to_array(msg)
    short = depth_msg(np.zeros((2, 3)))
    short.data = bytes(short.data)[:5]
    with pytest.raises(ValueError, match='bytes of data'):
        depth_image_to_array(short)


def test_nearest_stamp_within_tolerance_is_matched():
    matcher = DepthMatcher(size=3)
    assert matcher.match(10.0, 0.02) == (None, None)
    for nanosec in (0, 33_000_000, 66_000_000, 99_000_000):   # the oldest one is dropped
        matcher.add(depth_msg(np.full((2, 3), nanosec // 1_000_000), stamp=(10, nanosec)))
    msg, offset = matcher.match(10.040, 0.02)
    assert msg.header.stamp.nanosec == 33_000_000 and offset == pytest.approx(-0.007)
    msg, offset = matcher.match(10.0, 0.02)
    assert msg is None and offset == pytest.approx(0.033)   # the 10.000 s one is gone


def test_depth_for_says_why_a_frame_stays_monocular():
    matcher = DepthMatcher()
    header = depth_msg(np.zeros((2, 3)), stamp=(10, 0)).header
    assert matcher.depth_for(header, (2, 3, 3), True, 0.02) == (None, None, None)
    matcher.add(depth_msg(np.full((2, 3), 800), stamp=(10, 5_000_000)))
    depth, offset, problem = matcher.depth_for(header, (2, 3, 3), True, 0.02)
    assert problem is None and offset == pytest.approx(0.005)
    np.testing.assert_allclose(depth, 0.8)
    assert matcher.depth_for(header, (2, 3, 3), True, 0.001)[2][0] == 'depth_unmatched'
    assert matcher.depth_for(header, (2, 3, 3), False, 0.02)[2][0] == 'depth_without_camera_info'
    kind, text = matcher.depth_for(header, (4, 3, 3), True, 0.02)[2]
    assert kind == 'bad_depth' and 'aligned' in text
