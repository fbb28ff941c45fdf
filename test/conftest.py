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
Test-session defaults, so a plain ``pytest test`` behaves like the README's test command.

The ROS environment of the venv install (ament index, RMW) and the network rule (discovery on
localhost only, logs inside the tree, the large shared-memory Fast DDS profile) are filled in
where the caller's shell did not set them; ``scripts/test.sh`` sets them all explicitly.
"""

import os
import pathlib
import random
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent

os.environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('ROS_LOG_DIR', str(REPO / 'log' / 'ros'))
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(REPO / 'config' / 'fastdds.xml'))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Never the user's fixed domain (scripts/ros_env.sh): in-process DDS of a test run is private.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
os.environ.pop('ROS_LOCALHOST_ONLY', None)

# The parity fixtures (tiny random-weight models in the official formats, official outputs),
# shared by every test: import them with ``from conftest import FIXTURES, DETECTOR, ...``.
FIXTURES = REPO / 'test' / 'fixtures' / 'a'
DETECTOR = FIXTURES / 'detector' / 'detector.pt'
RECONSTRUCTOR = FIXTURES / 'wilor' / 'checkpoint.ckpt'
MANO_PKL = FIXTURES / 'wilor' / 'MANO_RIGHT.pkl'
