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
colcon builds both packages as a ROS 2 workspace does, here against the PyPI Kilted wheels.

This is the build users run (``colcon build --base-paths src/wilor_ros src/wilor_ros/wilor_msgs``):
the ament_python package must install its console scripts where ``ros2 run`` looks
(lib/wilor_ros), its launch and config files under share/, and the message package must
generate importable Python bindings.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns('.venv', 'build', 'install', 'log', '.git', 'fixtures',
                              '__pycache__', '*.egg-info')


def test_colcon_workspace_build(tmp_path):
    source = tmp_path / 'src' / 'wilor_ros'
    shutil.copytree(REPO, source, ignore=SKIP)
    prefix = str(pathlib.Path(sys.prefix))
    # VIRTUAL_ENV too: CMake's FindPython follows it (an activated other venv must not win).
    env = dict(os.environ, AMENT_PREFIX_PATH=prefix, CMAKE_PREFIX_PATH=prefix, VIRTUAL_ENV=prefix,
               PATH=f'{prefix}/bin:' + os.environ.get('PATH', ''))
    result = subprocess.run(
        [f'{prefix}/bin/colcon', 'build', '--base-paths', 'src/wilor_ros',
         'src/wilor_ros/wilor_msgs', '--cmake-args', '-DBUILD_TESTING=OFF'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Summary: 2 packages finished' in result.stdout

    install = tmp_path / 'install'
    executables = sorted(p.name for p in (install / 'wilor_ros' / 'lib' / 'wilor_ros').iterdir())
    assert executables == ['wilor-download', 'wilor-export', 'wilor-infer', 'wilor_node',
                           'wilor_rviz', 'wilor_source']
    share = install / 'wilor_ros' / 'share' / 'wilor_ros'
    for name in ('package.xml', 'launch/wilor.launch.py', 'config/wilor.yaml',
                 'config/wilor.rviz', 'config/fastdds.xml', 'config/bag_play_qos.yaml'):
        assert (share / name).is_file(), name
    assert (install / 'wilor_ros' / 'share' / 'ament_index' / 'resource_index' / 'packages'
            / 'wilor_ros').is_file()

    site = install / 'wilor_msgs' / 'lib' / f'python{sys.version_info[0]}.{sys.version_info[1]}'
    check = subprocess.run(
        [sys.executable, '-c', 'import wilor_msgs.msg as m; print(m.__file__); '
         'assert len(m.Hand().keypoints_3d) == 21; m.MeshFaces(); m.HandArray()'],
        env=dict(env, PYTHONPATH=str(site / 'site-packages'),
                 LD_LIBRARY_PATH=str(install / 'wilor_msgs' / 'lib')),
        capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert str(install) in check.stdout
