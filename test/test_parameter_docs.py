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
The parameter table of wilor_node is the only list: the YAML, the README and the settings follow.

``wilor_ros.ros.node_parameters.PARAMETERS`` declares the parameters; ``config/wilor.yaml`` and
the README's parameter table must name exactly those, with the declared defaults in the YAML,
and ``NodeSettings`` has one field per parameter, so none of them can drift from the table.
"""

import dataclasses
import pathlib
import re

import pytest
import yaml

# The tables' ParameterDescriptors come from rcl_interfaces; the ROS modules are imported in the
# tests so that this module is still collected (and skipped) without ROS 2.
pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
README_TABLE_HEADER = '| parameter | default | |'


def node_table():
    from wilor_ros.ros.node_parameters import NodeSettings, PARAMETERS

    return PARAMETERS, NodeSettings


def source_table():
    from wilor_ros.ros.source_parameters import SOURCE_PARAMETERS, SourceSettings

    return SOURCE_PARAMETERS, SourceSettings


TABLES = {'wilor_node': node_table, 'wilor_source': source_table}


def flatten(mapping, prefix=''):
    """Return {dotted name: value} of nested YAML mappings (a list is a value)."""
    flat = {}
    for key, value in mapping.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def yaml_parameters():
    document = yaml.safe_load((REPO / 'config' / 'wilor.yaml').read_text())
    return flatten(document['/**']['ros__parameters'])


def readme_parameters():
    """Return the names in the first column of the README's wilor_node parameter table."""
    lines = (REPO / 'README.md').read_text().splitlines()
    start = lines.index(README_TABLE_HEADER)
    names = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        first_column = line.split('|')[1]
        names += re.findall(r'`([^`]+)`', first_column)
    return names


def test_yaml_names_exactly_the_declared_parameters():
    declared = {spec.name for spec in node_table()[0]}
    named = set(yaml_parameters())
    assert named == declared, (f'only in config/wilor.yaml: {sorted(named - declared)}; '
                               f'not in it: {sorted(declared - named)}')


def test_yaml_values_are_the_declared_defaults():
    values = yaml_parameters()
    for spec in node_table()[0]:
        value = values[spec.name]
        # Same type too: ROS refuses an integer for a double parameter and the reverse.
        assert value == spec.default and type(value) is type(spec.default), spec.name
        if isinstance(value, list):
            assert [type(v) for v in value] == [type(v) for v in spec.default], spec.name


def test_readme_table_names_exactly_the_declared_parameters():
    names = readme_parameters()
    assert len(names) == len(set(names)), f'named twice in the README: {names}'
    declared = {spec.name for spec in node_table()[0]}
    assert set(names) == declared, (f'only in the README: {sorted(set(names) - declared)}; '
                                    f'not in it: {sorted(declared - set(names))}')


@pytest.mark.parametrize('node', TABLES)
def test_settings_fields_come_from_the_table(node):
    specs, settings = TABLES[node]()
    assert [field.name for field in dataclasses.fields(settings)] == [
        spec.name.replace('.', '_') for spec in specs]
    defaults = settings.from_values({spec.name: spec.default for spec in specs})
    for spec in specs:
        expected = tuple(spec.default) if isinstance(spec.default, list) else spec.default
        assert getattr(defaults, spec.attribute) == expected


@pytest.mark.parametrize('node', TABLES)
def test_every_parameter_is_documented_and_its_default_valid(node):
    specs = TABLES[node]()[0]
    assert len({spec.name for spec in specs}) == len(specs)
    for spec in specs:
        assert spec.description, spec.name
        assert spec.problem(spec.default) is None, spec.name


def test_source_parameters_take_command_line_integers_and_check_ranges():
    source_parameters = source_table()[0]
    specs = {spec.name: spec for spec in source_parameters}
    # -p source:=0 and -p fx:=600 arrive as integers.
    assert specs['source'].problem(0) is None and specs['source'].settings_value(0) == '0'
    assert specs['fx'].problem(600) is None and specs['fx'].settings_value(600) == 600.0
    assert 'rate must be in' in specs['rate'].problem(-1)
    assert 'fx must be in' in specs['fx'].problem(-3)
    assert 'must be of type float' in specs['pace_timeout'].problem('soon')
    assert 'image_reliability must be one of' in specs['image_reliability'].problem('sometimes')
    assert all(spec.read_only and spec.descriptor().dynamic_typing for spec in source_parameters)
