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
The QoS of camera images in and out of the project's nodes, by the name users give it.

``best_effort`` is the sensor-data profile camera drivers publish with (and a best-effort
subscription matches every publisher); ``reliable`` keeps the same depth and delivers every
frame of a reliable publisher (``image_reliability`` of wilor_node and wilor_source).
"""

from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy

RELIABILITIES = ('best_effort', 'reliable')


def image_qos(reliability):
    """Return the QoS profile of images for ``reliability`` (one of RELIABILITIES)."""
    if reliability not in RELIABILITIES:
        raise ValueError(f'reliability must be one of {", ".join(RELIABILITIES)}, got '
                         f'{reliability!r}')
    if reliability == 'best_effort':
        return qos_profile_sensor_data
    return QoSProfile(depth=qos_profile_sensor_data.depth, reliability=ReliabilityPolicy.RELIABLE)
