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
The QoS of the test cameras' images: sensor data, as camera drivers publish.

Under ``WILOR_TEST_IMAGE_QOS=reliable`` (scripts/test_jazzy.sh: Jazzy's rmw_fastrtps loses
large best-effort samples under LOCALHOST discovery, see test/ros_harness.py) the images go
reliable, and the harness starts wilor_node with ``image_reliability:=reliable`` to match.
"""

import os

from wilor_ros.ros.image_qos import image_qos as qos_of

RELIABLE_IMAGES = os.environ.get('WILOR_TEST_IMAGE_QOS') == 'reliable'


def image_qos():
    """Return the QoS profile for publishing (or receiving) test images."""
    return qos_of('reliable' if RELIABLE_IMAGES else 'best_effort')


def add_reliable_option(parser):
    """Add ``--reliable`` to a test program's arguments; return a function of the parsed args."""
    parser.add_argument('--reliable', action='store_true',
                        help='reliable, keep last 10 instead of the sensor-data QoS')
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy

    return lambda args: (QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
                         if args.reliable else qos_profile_sensor_data)
