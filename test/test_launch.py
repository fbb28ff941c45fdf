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
launch/wilor.launch.py and the files it installs: config/wilor.yaml and config/wilor.rviz.

launch and launch_ros are not installed here (only on a ROS 2 machine), so the launch file
is evaluated with minimal stand-ins for the four launch classes it uses, injected into
sys.modules by these tests only. What the stand-ins cannot show (the real ``ros2 launch``,
RViz loading the configuration) is listed in the README.
"""

import ast
import fnmatch
import importlib.util
import pathlib
import sys
import types

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
LAUNCH_FILE = REPO / 'launch' / 'wilor.launch.py'
PARAMS_FILE = REPO / 'config' / 'wilor.yaml'
RVIZ_FILE = REPO / 'config' / 'wilor.rviz'


def load_launch_module():
    spec = importlib.util.spec_from_file_location('wilor_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StandIn:
    """Records the keyword arguments of a launch action."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


class LaunchConfiguration:

    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


@pytest.fixture()
def launch_stand_ins(monkeypatch):
    """Minimal launch / launch_ros modules, present only during one test."""
    modules = {
        'launch': types.ModuleType('launch'),
        'launch.actions': types.ModuleType('launch.actions'),
        'launch.substitutions': types.ModuleType('launch.substitutions'),
        'launch_ros': types.ModuleType('launch_ros'),
        'launch_ros.actions': types.ModuleType('launch_ros.actions'),
    }
    modules['launch'].LaunchDescription = type('LaunchDescription', (StandIn,), {})
    modules['launch.actions'].DeclareLaunchArgument = type('DeclareLaunchArgument', (StandIn,),
                                                           {})
    modules['launch.actions'].OpaqueFunction = type('OpaqueFunction', (StandIn,), {})
    modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    modules['launch_ros.actions'].Node = type('Node', (StandIn,), {})
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return modules


def evaluate(module, **arguments):
    """Run the launch file as ros2 launch would: defaults, overrides, then the nodes."""
    description = module.generate_launch_description()
    entities = description.args[0]
    declared = {entity.args[0]: entity.kwargs for entity in entities[:-1]}
    configurations = {name: kwargs['default_value'] for name, kwargs in declared.items()}
    unknown = set(arguments) - set(configurations)
    assert not unknown, f'not declared: {unknown}'
    configurations.update(arguments)
    context = types.SimpleNamespace(launch_configurations=configurations)
    opaque = entities[-1]
    return declared, opaque.kwargs['function'](context)


def console_scripts():
    """{name: 'module:function'} from setup.py's entry_points, read without running it."""
    tree = ast.parse((REPO / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'entry_points':
            scripts = ast.literal_eval(node.value)['console_scripts']
            return dict(item.replace(' ', '').split('=') for item in scripts)
    raise AssertionError('setup.py has no entry_points')


def installed_patterns():
    """Return the glob patterns of setup.py's data_files."""
    tree = ast.parse((REPO / 'setup.py').read_text())
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'glob']


def flatten(tree, prefix=''):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def test_launch_file_imports_without_launch_installed():
    module = load_launch_module()
    assert callable(module.generate_launch_description)
    for name in ('params_file', 'image_topic', 'camera_info_topic', 'namespace', 'node_name',
                 'device', 'use_rviz', 'use_source', 'source'):
        assert name in module.ARGUMENTS and module.ARGUMENTS[name][1]


def test_launch_starts_wilor_node_with_the_installed_params_file(launch_stand_ins):
    module = load_launch_module()
    declared, nodes = evaluate(module)
    assert set(declared) == set(module.ARGUMENTS)
    assert all(kwargs['description'] for kwargs in declared.values())
    assert len(nodes) == 1
    node = nodes[0].kwargs
    assert (node['package'], node['executable'], node['name']) == ('wilor_ros', 'wilor_node',
                                                                   'wilor_node')
    assert console_scripts()['wilor_node'] == 'wilor_ros.ros.wilor_node:main'
    params_file = pathlib.Path(node['parameters'][0])
    assert node['parameters'] == [str(params_file)]
    assert params_file.name == 'wilor.yaml' and params_file.parent.name == 'config'
    assert params_file.resolve().read_text() == PARAMS_FILE.read_text()
    assert dict(node['remappings']) == {'image': 'image_raw', 'camera_info': 'camera_info'}
    assert node['namespace'] == ''


def test_launch_arguments_reach_the_nodes(launch_stand_ins):
    module = load_launch_module()
    _, nodes = evaluate(module, namespace='/robot', node_name='hands', device='cuda:1',
                        image_topic='/cam/color/image_raw',
                        camera_info_topic='/cam/color/camera_info', use_source='true',
                        source='/data/clip.mp4', use_rviz='True', fixed_frame='cam_link')
    by_executable = {node.kwargs['executable']: node.kwargs for node in nodes}
    assert set(by_executable) == {'wilor_node', 'wilor_source', 'rviz2'}
    wilor = by_executable['wilor_node']
    assert wilor['name'] == 'hands' and wilor['namespace'] == '/robot'
    assert wilor['parameters'][1:] == [{'device': 'cuda:1'}]
    assert dict(wilor['remappings']) == {'image': '/cam/color/image_raw',
                                         'camera_info': '/cam/color/camera_info'}
    source = by_executable['wilor_source']
    assert source['package'] == 'wilor_ros' and 'wilor_source' in console_scripts()
    assert console_scripts()['wilor_source'] == 'wilor_ros.ros.source_node:main'
    assert source['parameters'] == [{'source': '/data/clip.mp4', 'frame_id': 'cam_link'}]
    # The source's outputs land where wilor_node listens.
    assert dict(source['remappings']) == {'image': '/cam/color/image_raw',
                                          'camera_info': '/cam/color/camera_info'}
    rviz = by_executable['rviz2']
    config = pathlib.Path(rviz['arguments'][rviz['arguments'].index('-d') + 1])
    assert config.resolve().read_text() == RVIZ_FILE.read_text()
    assert rviz['arguments'][rviz['arguments'].index('-f') + 1] == 'cam_link'
    assert dict(rviz['remappings']) == {'/markers': '/robot/markers',
                                        '/debug_image': '/robot/debug_image'}


def test_launch_refuses_a_non_boolean_switch(launch_stand_ins):
    with pytest.raises(ValueError, match='use_rviz must be true or false'):
        evaluate(load_launch_module(), use_rviz='maybe')


def test_real_launch_description_when_launch_is_installed():
    launch = pytest.importorskip('launch')
    if not hasattr(launch, 'LaunchDescription'):
        pytest.skip('launch is not installed (only a namespace package named launch)')
    description = load_launch_module().generate_launch_description()
    names = {argument.name for argument in description.get_launch_arguments()}
    assert names == set(load_launch_module().ARGUMENTS)


def test_launch_and_config_files_are_installed_by_setup_py():
    patterns = installed_patterns()
    for path in (LAUNCH_FILE, PARAMS_FILE, RVIZ_FILE):
        relative = str(path.relative_to(REPO))
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_params_file_sets_every_declared_parameter_to_its_default():
    from wilor_ros.ros.node_parameters import check_value, PARAMETERS

    document = yaml.safe_load(PARAMS_FILE.read_text())
    assert list(document) == ['/**'] and list(document['/**']) == ['ros__parameters']
    values = flatten(document['/**']['ros__parameters'])
    assert set(values) == {spec.name for spec in PARAMETERS}
    for spec in PARAMETERS:
        assert check_value(spec.name, values[spec.name]) is None, spec.name
        assert values[spec.name] == pytest.approx(spec.default), spec.name


def test_rviz_config_shows_markers_and_debug_image_with_matching_qos():
    from wilor_ros.ros.markers import MarkerStyle

    config = yaml.safe_load(RVIZ_FILE.read_text())
    manager = config['Visualization Manager']
    displays = {display['Class']: display for display in manager['Displays']}
    markers = displays['rviz_default_plugins/MarkerArray']
    # wilor_node publishes both reliable; a best-effort image display matches that too and
    # never holds the node back.
    assert markers['Topic']['Value'] == '/markers'
    assert markers['Topic']['Reliability Policy'] == 'Reliable'
    assert markers['Namespaces'] == {MarkerStyle().namespace: True}
    image = displays['rviz_default_plugins/Image']
    assert image['Topic']['Value'] == '/debug_image'
    assert image['Topic']['Reliability Policy'] == 'Best Effort'
    assert manager['Global Options']['Fixed Frame'] == load_launch_module().ARGUMENTS[
        'fixed_frame'][0]


def test_wilor_node_accepts_the_shipped_params_file():
    from conftest import FIXTURES
    from ros_harness import ros_env, RosProcess

    # The shipped file leaves autostart off (the launch file drives the lifecycle); the
    # command line after it turns it on, as scripts/run.sh does.
    process = RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args',
                          '--params-file', PARAMS_FILE, '-p', 'autostart:=true',
                          '-p', f'detector_path:={FIXTURES / "detector" / "detector.pt"}',
                          '-p', f'reconstructor_path:={FIXTURES / "wilor" / "checkpoint.ckpt"}',
                          '-p', 'device:=cpu'], ros_env())
    try:
        process.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
    finally:
        process.stop()
    assert process.proc.returncode == 0, process.output
