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

"""Stamp arithmetic (wilor_ros.stamps) and the depth pairing rule, without ROS."""

import types

import pytest

from wilor_ros import stamps
from wilor_ros.depth_pairing import nearest_depth


def stamp(sec, nanosec):
    return types.SimpleNamespace(sec=sec, nanosec=nanosec)


@pytest.mark.parametrize('sec, nanosec', [(0, 0), (1, 1), (1_700_000_000, 999_999_999),
                                          (2 ** 31 - 1, 123_456_789)])
def test_nanoseconds_and_sec_nanosec_round_trip_exactly(sec, nanosec):
    nanoseconds = stamps.to_nanoseconds(sec, nanosec)
    assert nanoseconds == sec * 1_000_000_000 + nanosec
    assert stamps.from_nanoseconds(nanoseconds) == (sec, nanosec)
    assert stamps.stamp_nanoseconds(stamp(sec, nanosec)) == nanoseconds


def test_split_keeps_nanosec_in_range_and_returns_ints():
    assert stamps.from_nanoseconds(-1) == (-1, 999_999_999)
    sec, nanosec = stamps.from_nanoseconds(2_500_000_000.0)   # a float (e.g. numpy) input
    assert (sec, nanosec) == (2, 500_000_000)
    assert type(sec) is int and type(nanosec) is int


def test_nanoseconds_order_stamps_that_float_seconds_cannot_tell_apart():
    a, b = stamp(1_700_000_000, 1), stamp(1_700_000_000, 2)
    assert stamps.stamp_seconds(a) == stamps.stamp_seconds(b)   # 0.2 us resolution at the epoch
    assert stamps.stamp_nanoseconds(a) < stamps.stamp_nanoseconds(b)


def test_seconds_are_sec_plus_nanosec_times_1e_minus_9():
    assert stamps.to_seconds(10, 250_000_000) == 10 + 250_000_000 * 1e-9
    assert stamps.stamp_seconds(stamp(0, 0)) == 0.0
    assert stamps.nanoseconds_to_seconds(1_500_000_000) == 1.5


def test_seconds_to_nanoseconds_rounds_to_the_nearest():
    # 0.0157 s * 1e9 is 15699999.999999998 in floating point: rounding, not truncation.
    assert stamps.seconds_to_nanoseconds(0.0157) == 15_700_000
    assert stamps.seconds_to_nanoseconds(0.25) == 250_000_000
    assert stamps.seconds_to_nanoseconds(1e-10) == 0
    assert type(stamps.seconds_to_nanoseconds(1)) is int


def test_media_time_is_index_over_rate_rounded():
    assert [stamps.media_time_nanoseconds(i, 30.0) for i in range(4)] == [
        0, 33_333_333, 66_666_667, 100_000_000]
    assert stamps.media_time_nanoseconds(7, 5.0) == 1_400_000_000


def test_nearest_depth_pairs_within_the_tolerance_only():
    depths = [(10_000_000_000, 'a'), (10_033_000_000, 'b'), (10_066_000_000, 'c')]
    assert nearest_depth(depths, 10_040_000_000, 20_000_000) == ('b', -7_000_000)
    assert nearest_depth(depths, 9_900_000_000, 20_000_000) == (None, 100_000_000)
    # Exactly at the tolerance still pairs (integer stamps: no float rounding at the edge).
    assert nearest_depth(depths, 10_086_000_000, 20_000_000) == ('c', -20_000_000)
    assert nearest_depth([], 10_000_000_000, 20_000_000) == (None, None)


def test_nearest_depth_takes_the_first_listed_of_two_equally_near():
    depths = [(20, 'later-listed-earlier'), (0, 'second')]
    assert nearest_depth(depths, 10, 10) == ('later-listed-earlier', 10)
