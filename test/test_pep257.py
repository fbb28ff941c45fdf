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

"""Lint: ament_pep257 (docstring conventions) over every Python file of the project."""

import pathlib

from ament_pep257.main import main
import pytest

pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
LINTED = ['wilor_ros', 'test', 'launch', 'bench', 'setup.py']


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    paths = [str(REPO / name) for name in LINTED if (REPO / name).exists()]
    rc = main(argv=paths)
    assert rc == 0, 'Found code style errors / warnings'
