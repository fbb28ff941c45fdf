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
Where the parity fixtures lie: ``from fixture_paths import DETECTOR, FIXTURES, ...``.

The fixtures (test/fixtures/a, described in its README) are tiny random-weight models in the
official file formats and the official code's outputs on them. A plain module rather than
``from conftest import``: pytest loads conftest.py itself and discourages importing it, and the
benchmarks and ROS test programs that reuse these paths must not run conftest's session set-up.
"""

import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / 'test' / 'fixtures' / 'a'
DETECTOR = FIXTURES / 'detector' / 'detector.pt'
RECONSTRUCTOR = FIXTURES / 'wilor' / 'checkpoint.ckpt'
MANO_PKL = FIXTURES / 'wilor' / 'MANO_RIGHT.pkl'
# The detector fixture's 640x480 BGR image, on which the fixture detector finds both sides.
DETECT_NPZ = FIXTURES / 'detector' / 'detect.npz'
