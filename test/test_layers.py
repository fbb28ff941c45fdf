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
The layer rule: only ``wilor_ros/ros/`` imports rclpy or a message package.

The core (the top level of ``wilor_ros/``, ``wilor_ros/models/`` and ``wilor_ros/backends/``)
never imports ROS nor the ROS layer nor the tools. The tools may reach the ROS layer only inside
a function, for an option that needs ROS (``wilor-infer --out-bag`` ->
``wilor_ros.ros.bag_writer``), so that ``wilor-infer`` runs without ROS otherwise.
"""

import ast
import subprocess
import sys

from fixture_paths import REPO

PACKAGE = REPO / 'wilor_ros'
# The layers that run without ROS and never reach the ROS layer nor the tools.
ROS_FREE_LAYERS = ('core', 'models', 'backends')
# Packages of a ROS installation (the message packages end in _msgs / _interfaces).
ROS_ROOTS = ('rclpy', 'rosidl_runtime_py', 'rosidl_parser', 'tf2_ros', 'message_filters',
             'builtin_interfaces', 'rcl_interfaces', 'lifecycle_msgs', 'launch', 'launch_ros',
             'ament_index_python')


def is_ros_module(name):
    root = name.split('.')[0]
    return root in ROS_ROOTS or root.endswith('_msgs') or root.endswith('_interfaces')


def imports_of(path):
    """Return (module name, at top level of the file) for every import statement of a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.module, id(node) in top_level))
            found += [(f'{node.module}.{alias.name}', id(node) in top_level)
                      for alias in node.names if node.module == 'wilor_ros']
    return found


def layer_of(path):
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else 'core'


def test_the_packages_are_the_documented_layers():
    layers = {layer_of(path) for path in PACKAGE.rglob('*.py')}
    assert layers == {'core', 'models', 'backends', 'ros', 'tools'}


def test_only_the_ros_layer_imports_ros():
    violations = []
    for path in sorted(PACKAGE.rglob('*.py')):
        layer = layer_of(path)
        for module, top_level in imports_of(path):
            ros = is_ros_module(module) or module.startswith('wilor_ros.ros')
            if layer == 'ros':
                continue
            if layer == 'tools' and module.startswith('wilor_ros.ros') and not top_level:
                continue  # an option that needs ROS, imported when used
            if layer in ROS_FREE_LAYERS and module.startswith('wilor_ros.tools'):
                violations.append(f'{path.relative_to(REPO)} imports the tool {module}')
            if ros:
                violations.append(f'{path.relative_to(REPO)} imports {module}')
    assert not violations, '\n'.join(violations)


def test_models_do_not_reach_into_the_ros_or_tools_layers():
    for path in sorted((PACKAGE / 'models').rglob('*.py')):
        for module, _ in imports_of(path):
            assert not module.startswith(('wilor_ros.ros', 'wilor_ros.tools')), (path, module)


def test_the_rule_catches_a_violation(tmp_path):
    # The checker itself must see imports at any depth, or the rule above proves nothing.
    sample = tmp_path / 'sample.py'
    sample.write_text('import numpy\n\n\ndef f():\n    from sensor_msgs.msg import Image\n'
                      '    import rclpy.node\n')
    modules = [module for module, _ in imports_of(sample)]
    assert [m for m in modules if is_ros_module(m)] == ['sensor_msgs.msg', 'rclpy.node']


def run_without_ros(code):
    """Run ``code`` in a Python where every ROS package fails to import."""
    blocker = (
        'import sys\n'
        'class _NoRos:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        f'        root = name.split(".")[0]\n'
        f'        if root in {ROS_ROOTS!r} or root.endswith(("_msgs", "_interfaces")):\n'
        '            raise ImportError(f"No module named {name!r} (ROS blocked by the test)")\n'
        '        return None\n'
        'sys.meta_path.insert(0, _NoRos())\n')
    return subprocess.run([sys.executable, '-c', blocker + code], capture_output=True,
                          text=True, cwd=REPO)


def test_every_ros_free_module_imports_without_ros():
    modules = sorted(
        'wilor_ros.' + '.'.join(path.relative_to(PACKAGE).with_suffix('').parts)
        for path in PACKAGE.rglob('*.py') if layer_of(path) in (*ROS_FREE_LAYERS, 'tools'))
    modules = [m.removesuffix('.__init__') for m in modules]
    result = run_without_ros(''.join(f'import {module}\n' for module in modules))
    assert result.returncode == 0, result.stderr


def test_the_ros_layer_fails_clearly_without_ros():
    result = run_without_ros('import wilor_ros.models\nprint("core ok")\nimport wilor_ros.ros\n')
    assert result.stdout.strip() == 'core ok'
    assert result.returncode != 0
    assert 'wilor_ros.ros is the ROS 2 layer and needs rclpy' in result.stderr
