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

"""Lint: both package.xml files are well-formed format-3 manifests that catkin_pkg accepts."""

import pathlib
import subprocess
import xml.etree.ElementTree as ElementTree

from catkin_pkg.package import parse_package
import pytest

pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
MANIFESTS = [REPO / 'package.xml', REPO / 'wilor_msgs' / 'package.xml']
XML_FILES = MANIFESTS + sorted((REPO / 'config').glob('*.xml'))


@pytest.mark.parametrize('path', XML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_xml_is_well_formed(path):
    ElementTree.parse(path)
    result = subprocess.run(['xmllint', '--noout', str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize('path', MANIFESTS, ids=lambda p: str(p.relative_to(REPO)))
def test_manifest_is_valid_format_3(path):
    package = parse_package(str(path))
    package.validate()
    assert package.package_format == 3
    assert package.name == ('wilor_ros' if path.parent == REPO else path.parent.name)


def test_msgs_manifest_declares_interface_group():
    package = parse_package(str(REPO / 'wilor_msgs' / 'package.xml'))
    assert 'rosidl_interface_packages' in [group.name for group in package.member_of_groups]
    assert package.get_build_type() == 'ament_cmake'
    assert parse_package(str(REPO / 'package.xml')).get_build_type() == 'ament_python'
