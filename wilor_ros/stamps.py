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
Stamp arithmetic, one owner: seconds, (sec, nanosec) and integer nanoseconds.

A ROS stamp (builtin_interfaces/Time or Duration) is a whole-second ``sec`` plus a ``nanosec``
in [0, 1e9). Integer nanoseconds are the exact form: stamps are compared, paired and used as
keys in it (a float of seconds since the epoch resolves only about 0.2 us). Float seconds are
for filters, rates and display. Plain numbers only: the ROS messages are filled from these in
``wilor_ros/ros/``; the stamp readers take any object with ``sec`` and ``nanosec`` (a ROS
message, or a decoded MCAP message).
"""

NANOSECONDS_PER_SECOND = 1_000_000_000


def to_nanoseconds(sec, nanosec):
    """Return (sec, nanosec) as integer nanoseconds (exact, ordered)."""
    return int(sec) * NANOSECONDS_PER_SECOND + int(nanosec)


def to_seconds(sec, nanosec):
    """Return (sec, nanosec) as float seconds: ``sec + nanosec * 1e-9``."""
    return sec + nanosec * 1e-9


def from_nanoseconds(nanoseconds):
    """
    Return integer nanoseconds as (sec, nanosec) with 0 <= nanosec < 1e9.

    Floor division, so a negative time keeps a nanosec in range (-1 ns is (-1, 999999999)).
    """
    return (int(nanoseconds // NANOSECONDS_PER_SECOND),
            int(nanoseconds % NANOSECONDS_PER_SECOND))


def nanoseconds_to_seconds(nanoseconds):
    """Return integer nanoseconds as float seconds: ``nanoseconds / 1e9``."""
    return nanoseconds / 1e9


def seconds_to_nanoseconds(seconds):
    """Return float seconds as integer nanoseconds, rounded to the nearest."""
    return int(round(float(seconds) * 1e9))


def media_time_nanoseconds(index, rate):
    """Return the time of frame ``index`` of a medium played at ``rate`` Hz (ns, rounded)."""
    return int(round(index * 1e9 / rate))


def stamp_nanoseconds(stamp):
    """Return a stamp (an object with ``sec`` and ``nanosec``) as integer nanoseconds."""
    return to_nanoseconds(stamp.sec, stamp.nanosec)


def stamp_seconds(stamp):
    """Return a stamp as float seconds (0.0 when the publisher left it unset)."""
    return to_seconds(stamp.sec, stamp.nanosec)
