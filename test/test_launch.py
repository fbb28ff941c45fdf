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
is evaluated with minimal stand-ins for the launch classes it uses, injected into sys.modules
by these tests only; their signatures follow launch_ros's humble, jazzy and rolling branches
(docs/adoption.md says what was checked where). What the stand-ins cannot show (the real
``ros2 launch``, RViz loading the configuration) is listed in the README.
"""

import ast
import fnmatch
import importlib.util
import pathlib
import sys
import types

from fixture_paths import DETECTOR, RECONSTRUCTOR, REPO
import pytest
import yaml

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


class LifecycleNode(StandIn):
    """launch_ros.actions.LifecycleNode before launch_ros#430: no autostart argument."""

    def __init__(self, *, name, namespace, **kwargs):
        super().__init__(name=name, namespace=namespace, **kwargs)


class AutostartLifecycleNode(StandIn):
    """launch_ros.actions.LifecycleNode with launch_ros#430's autostart argument."""

    def __init__(self, *, name, namespace, autostart=False, **kwargs):
        super().__init__(name=name, namespace=namespace, autostart=autostart, **kwargs)


def matches_action(target):
    return lambda action: action is target


@pytest.fixture()
def launch_stand_ins(monkeypatch):
    """Minimal launch / launch_ros modules, present only during one test."""
    names = ('launch', 'launch.actions', 'launch.events', 'launch.substitutions', 'launch_ros',
             'launch_ros.actions', 'launch_ros.event_handlers', 'launch_ros.events',
             'launch_ros.events.lifecycle')
    modules = {name: types.ModuleType(name) for name in names}
    modules['launch'].LaunchDescription = type('LaunchDescription', (StandIn,), {})
    for action in ('DeclareLaunchArgument', 'OpaqueFunction', 'EmitEvent',
                   'RegisterEventHandler'):
        setattr(modules['launch.actions'], action, type(action, (StandIn,), {}))
    modules['launch.events'].matches_action = matches_action
    modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    modules['launch_ros.actions'].Node = type('Node', (StandIn,), {})
    modules['launch_ros.actions'].LifecycleNode = LifecycleNode
    modules['launch_ros.event_handlers'].OnStateTransition = type('OnStateTransition',
                                                                  (StandIn,), {})
    modules['launch_ros.events.lifecycle'].ChangeState = type('ChangeState', (StandIn,), {})
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return modules


def nodes_of(actions):
    """Return the node actions (Node, LifecycleNode) of a list of launch actions."""
    return [action for action in actions if 'executable' in action.kwargs]


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


@pytest.mark.ros
def test_launch_starts_wilor_node_with_the_installed_params_file(launch_stand_ins):
    module = load_launch_module()
    declared, actions = evaluate(module)
    assert set(declared) == set(module.ARGUMENTS)
    assert all(kwargs['description'] for kwargs in declared.values())
    nodes = nodes_of(actions)
    assert len(nodes) == 1 and isinstance(nodes[0], LifecycleNode)
    node = nodes[0].kwargs
    assert (node['package'], node['executable'], node['name']) == ('wilor_ros', 'wilor_node',
                                                                   'wilor_node')
    assert console_scripts()['wilor_node'] == 'wilor_ros.tools.entry_points:wilor_node'
    params_file = pathlib.Path(node['parameters'][0])
    assert node['parameters'] == [str(params_file)]
    assert params_file.name == 'wilor.yaml' and params_file.parent.name == 'config'
    assert params_file.resolve().read_text() == PARAMS_FILE.read_text()
    assert dict(node['remappings']) == {'image': 'image_raw', 'camera_info': 'camera_info',
                                        'depth_image': 'depth_image'}
    assert node['namespace'] == ''


@pytest.mark.ros
def test_launch_arguments_reach_the_nodes(launch_stand_ins):
    module = load_launch_module()
    _, actions = evaluate(module, namespace='/robot', node_name='hands', device='cuda:1',
                          image_topic='/cam/color/image_raw',
                          camera_info_topic='/cam/color/camera_info', use_source='true',
                          depth_image_topic='/cam/aligned_depth_to_color/image_raw',
                          source='/data/clip.mp4', use_rviz='True', fixed_frame='cam_link')
    by_executable = {node.kwargs['executable']: node.kwargs for node in nodes_of(actions)}
    assert set(by_executable) == {'wilor_node', 'wilor_source', 'wilor_rviz'}
    wilor = by_executable['wilor_node']
    assert wilor['name'] == 'hands' and wilor['namespace'] == '/robot'
    # A file source: every frame, reliably (test_file_source_is_paced_and_reliable).
    assert wilor['parameters'][1:] == [{'device': 'cuda:1'}, {'image_reliability': 'reliable'}]
    assert dict(wilor['remappings']) == {
        'image': '/cam/color/image_raw', 'camera_info': '/cam/color/camera_info',
        'depth_image': '/cam/aligned_depth_to_color/image_raw'}
    source = by_executable['wilor_source']
    assert source['package'] == 'wilor_ros' and 'wilor_source' in console_scripts()
    assert console_scripts()['wilor_source'] == 'wilor_ros.tools.entry_points:wilor_source'
    assert source['parameters'] == [{'source': '/data/clip.mp4', 'frame_id': 'cam_link',
                                     'pace_topic': 'hands', 'image_reliability': 'reliable'}]
    # The source's outputs land where wilor_node listens.
    assert dict(source['remappings']) == {'image': '/cam/color/image_raw',
                                          'camera_info': '/cam/color/camera_info'}
    rviz = by_executable['wilor_rviz']
    assert console_scripts()['wilor_rviz'] == 'wilor_ros.ros.rviz_launcher:main'
    arguments = rviz['arguments']
    config = pathlib.Path(arguments[arguments.index('--config') + 1])
    assert config.resolve().read_text() == RVIZ_FILE.read_text()
    assert arguments[arguments.index('--fixed-frame') + 1] == 'cam_link'
    remaps = [arguments[i + 1] for i, word in enumerate(arguments) if word == '--remap']
    assert remaps == ['/markers:=/robot/markers', '/debug_image:=/robot/debug_image']
    # wilor_rviz listens to the camera wilor_node listens to.
    assert dict(rviz['remappings']) == {'image': '/cam/color/image_raw',
                                        'camera_info': '/cam/color/camera_info',
                                        'hands': '/robot/hands'}
    assert rviz['namespace'] == '/robot'


@pytest.mark.ros
def test_realsense_command_derives_the_fixed_frame_from_the_camera(launch_stand_ins):
    """The README command: no fixed_frame, so RViz takes the camera's own frame."""
    _, actions = evaluate(load_launch_module(), image_topic='/camera/color/image_raw',
                          camera_info_topic='/camera/color/camera_info', use_rviz='true')
    rviz = {node.kwargs['executable']: node.kwargs for node in nodes_of(actions)}['wilor_rviz']
    assert '--fixed-frame' not in rviz['arguments'] and '-f' not in rviz['arguments']
    assert dict(rviz['remappings'])['camera_info'] == '/camera/color/camera_info'
    _, actions = evaluate(load_launch_module(), use_source='true', use_rviz='true')
    source = {node.kwargs['executable']: node.kwargs for node in nodes_of(actions)}[
        'wilor_source']
    # wilor_source keeps its own frame_id, which wilor_rviz then reads from it.
    assert source['parameters'] == [{'source': '0'}]


@pytest.mark.ros
@pytest.mark.parametrize('source', ['/data/clip.mp4', 'clip.mp4', '/data/frames', '/dev/v0'])
def test_file_source_is_paced_and_reliable(launch_stand_ins, source):
    """As scripts/run.sh: a file waits for each frame's hands, sent and received reliably."""
    _, actions = evaluate(load_launch_module(), use_source='true', source=source,
                          namespace='robot')
    nodes = {node.kwargs['executable']: node.kwargs for node in nodes_of(actions)}
    assert nodes['wilor_source']['parameters'] == [
        {'source': source, 'pace_topic': 'hands', 'image_reliability': 'reliable'}]
    wilor = nodes['wilor_node']
    assert wilor['parameters'][1:] == [{'image_reliability': 'reliable'}]
    # Both in one namespace: the relative pace topic is the hands topic wilor_node publishes.
    assert nodes['wilor_source']['namespace'] == wilor['namespace'] == 'robot'
    assert 'hands' not in dict(nodes['wilor_source']['remappings'])
    assert 'hands' not in dict(wilor['remappings'])


@pytest.mark.ros
@pytest.mark.parametrize('source', ['0', '2', '/dev/video0', '/dev/video12'])
def test_camera_source_stays_live_and_best_effort(launch_stand_ins, source):
    _, actions = evaluate(load_launch_module(), use_source='true', source=source)
    nodes = {node.kwargs['executable']: node.kwargs for node in nodes_of(actions)}
    assert nodes['wilor_source']['parameters'] == [{'source': source}]
    assert nodes['wilor_node']['parameters'][1:] == []


def test_launch_and_run_script_agree_on_file_and_camera_sources():
    """The launch file's rule is wilor_source's own (wilor_ros.media_io)."""
    from wilor_ros.media_io import _is_camera_spec

    module = load_launch_module()
    for source in ('0', '17', '/dev/video3', '/dev/video', '/dev/videos/a.mp4', 'a.mp4',
                   '/data/frames', '0.mp4', ''):
        assert module.is_live_source(source) == _is_camera_spec(source), source


@pytest.mark.ros
def test_without_source_the_node_keeps_the_params_file_reliability(launch_stand_ins):
    _, actions = evaluate(load_launch_module(), source='/data/clip.mp4')
    [node] = nodes_of(actions)
    assert node.kwargs['parameters'][1:] == []


@pytest.mark.ros
def test_lifecycle_node_is_configured_then_activated_by_events(launch_stand_ins):
    """Humble / Jazzy without launch_ros#430: the event-handler pattern."""
    _, actions = evaluate(load_launch_module())
    kinds = [type(action).__name__ for action in actions]
    assert kinds == ['RegisterEventHandler', 'LifecycleNode', 'EmitEvent']
    handler, node, configure = actions
    from lifecycle_msgs.msg import Transition

    # Configure, sent to this node only.
    event = configure.kwargs['event']
    assert event.kwargs['transition_id'] == Transition.TRANSITION_CONFIGURE
    assert event.kwargs['lifecycle_node_matcher'](node)
    assert not event.kwargs['lifecycle_node_matcher'](StandIn())
    # Once inactive (configured), activate.
    on_transition = handler.args[0]
    assert on_transition.kwargs['target_lifecycle_node'] is node
    assert on_transition.kwargs['goal_state'] == 'inactive'
    [emit] = on_transition.kwargs['entities']
    activate = emit.kwargs['event']
    assert activate.kwargs['transition_id'] == Transition.TRANSITION_ACTIVATE
    assert activate.kwargs['lifecycle_node_matcher'](node)
    # The node itself is not told to start itself: the launch drives it.
    assert 'autostart' not in node.kwargs
    assert all('autostart' not in parameter for parameter in node.kwargs['parameters']
               if isinstance(parameter, dict))


@pytest.mark.ros
def test_lifecycle_node_uses_launch_ros_autostart_where_it_exists(launch_stand_ins,
                                                                  monkeypatch):
    monkeypatch.setattr(launch_stand_ins['launch_ros.actions'], 'LifecycleNode',
                        AutostartLifecycleNode)
    _, actions = evaluate(load_launch_module())
    assert [type(action).__name__ for action in actions] == ['AutostartLifecycleNode']
    assert actions[0].kwargs['autostart'] is True


@pytest.mark.ros
def test_autostart_false_leaves_the_node_to_a_lifecycle_manager(launch_stand_ins):
    _, actions = evaluate(load_launch_module(), autostart='false')
    assert [type(action).__name__ for action in actions] == ['LifecycleNode']


@pytest.mark.ros
def test_launch_refuses_a_non_boolean_switch(launch_stand_ins):
    with pytest.raises(ValueError, match='use_rviz must be true or false'):
        evaluate(load_launch_module(), use_rviz='maybe')


@pytest.mark.ros
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


@pytest.mark.ros
def test_params_file_sets_every_declared_parameter_to_its_default():
    from wilor_ros.ros.node_parameters import check_value, PARAMETERS

    document = yaml.safe_load(PARAMS_FILE.read_text())
    assert list(document) == ['/**'] and list(document['/**']) == ['ros__parameters']
    values = flatten(document['/**']['ros__parameters'])
    assert set(values) == {spec.name for spec in PARAMETERS}
    for spec in PARAMETERS:
        assert check_value(spec.name, values[spec.name]) is None, spec.name
        assert values[spec.name] == pytest.approx(spec.default), spec.name


@pytest.mark.ros
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
    # Replaced at start by wilor_rviz (-f: the camera's frame or the fixed_frame argument);
    # the file's value is wilor_source's default frame.
    from wilor_ros.ros.source_node import DEFAULT_FRAME_ID

    assert manager['Global Options']['Fixed Frame'] == DEFAULT_FRAME_ID


@pytest.mark.ros
def test_wilor_node_accepts_the_shipped_params_file():
    from ros_harness import ros_env, RosProcess

    # The shipped file leaves autostart off (the launch file drives the lifecycle); the
    # command line after it turns it on, as scripts/run.sh does.
    process = RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args',
                          '--params-file', PARAMS_FILE, '-p', 'autostart:=true',
                          '-p', f'detector_path:={DETECTOR}',
                          '-p', f'reconstructor_path:={RECONSTRUCTOR}',
                          '-p', 'device:=cpu'], ros_env())
    try:
        process.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
    finally:
        process.stop()
    assert process.proc.returncode == 0, process.output
