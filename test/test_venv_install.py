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
The venv install of scripts/setup.sh, as the real ROS 2 tools look it up.

The lookups below are those of ros2cli's ``ros2 pkg executables`` / ``ros2 run``
(ros2pkg.api.get_executable_paths), launch_ros's ``Node(package=..., executable=...)``
(ExecutableInPackage: ``shutil.which`` in ``<prefix>/lib/<package>``) and ``ros2 launch
<package> <file>`` (ros2launch.api.get_share_file_path_from_package: ``os.walk`` of the share
directory, which does not enter linked directories); those tools are not installed here.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PREFIX = pathlib.Path(sys.prefix)

# The ament index and ROS's own lookups (ros2 run, launch_ros, ros2 launch).
pytestmark = [pytest.mark.ros, pytest.mark.skipif(
    not (PREFIX / '.wilor_stamps').is_dir(),
    reason='not the venv of scripts/setup.sh (a colcon install is tested by test_colcon_build)')]


def console_scripts():
    """Return the console script names of setup.py, read without running it."""
    tree = ast.parse((REPO / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'entry_points':
            scripts = ast.literal_eval(node.value)['console_scripts']
            return sorted(item.split('=')[0].strip() for item in scripts)
    raise AssertionError('setup.py has no entry_points')


def package_prefix():
    from ament_index_python.packages import get_package_prefix

    return pathlib.Path(get_package_prefix('wilor_ros'))


def executable_paths(prefix):
    """ros2pkg.api.get_executable_paths: the executable files under <prefix>/lib/wilor_ros."""
    found = []
    for dirpath, dirnames, filenames in os.walk(prefix / 'lib' / 'wilor_ros'):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        found += [os.path.join(dirpath, name) for name in sorted(filenames)
                  if os.access(os.path.join(dirpath, name), os.X_OK)]
    return found


def test_every_console_script_is_a_package_executable():
    prefix = package_prefix()
    assert prefix == PREFIX
    names = [os.path.basename(path) for path in executable_paths(prefix)]
    assert sorted(names) == console_scripts()
    for name in console_scripts():
        # launch_ros's ExecutableInPackage; the result is what ros2 run / launch execute.
        found = shutil.which(name, path=str(prefix / 'lib' / 'wilor_ros'))
        assert found, name
        assert pathlib.Path(found).resolve() == (PREFIX / 'bin' / name).resolve()


def test_a_package_executable_runs():
    executable = package_prefix() / 'lib' / 'wilor_ros' / 'wilor-infer'
    result = subprocess.run([str(executable), '--help'], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'usage' in result.stdout.lower()


def test_ros2_launch_finds_the_launch_file_and_the_configuration():
    from ament_index_python.packages import get_package_share_directory

    share = pathlib.Path(get_package_share_directory('wilor_ros'))
    walked = {}
    for root, _, files in os.walk(share):
        for name in files:
            walked.setdefault(name, []).append(pathlib.Path(root) / name)
    expected = ['wilor.launch.py', 'wilor.yaml', 'wilor.rviz', 'fastdds.xml', 'package.xml']
    for name in expected:
        assert len(walked.get(name, [])) == 1, (name, sorted(walked))
        path = walked[name][0]
        source = REPO / path.relative_to(share)
        # Links to the working tree, as colcon --symlink-install: edits apply at once.
        assert path.resolve() == source.resolve(), name
    assert walked['wilor.launch.py'][0] == share / 'launch' / 'wilor.launch.py'
    assert walked['wilor.yaml'][0] == share / 'config' / 'wilor.yaml'
