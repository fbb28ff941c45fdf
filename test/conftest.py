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
Test-session defaults, the shared fixture models and the ``ros`` marker.

Environment: the ROS environment of the venv install (ament index, RMW) and the network rule
(discovery on localhost only, logs inside the tree, the large shared-memory Fast DDS profile)
are filled in where the caller's shell did not set them, so a plain ``pytest test`` behaves like
the README's test command (``scripts/test.sh`` sets them all explicitly).

Fixtures (session-scoped, loaded once per run; paths: ``test/fixture_paths.py``):
``fixture_detector`` and ``fixture_reconstructor`` are the parity fixture networks on the CPU in
float32; ``fixture_pipeline`` is a :class:`~wilor_ros.pipeline.HandPipeline` of both with
``conf=0.25``; ``make_fixture_pipeline(**options)`` builds one with other settings on the same
networks; ``fixture_image`` is the detector fixture's BGR image (a fresh copy per test) and
``fixture_hands`` the hands ``fixture_pipeline`` finds there with ``fixture_camera_matrix``, a
600 px camera (both sides). The networks, pipeline and hands are shared by the whole run: a test
that changes one (precision, compilation, settings) builds its own.

The ``ros`` marker (setup.cfg) says a test needs ROS 2: rclpy, message packages, ROS programs
or ROS tooling. Without rclpy (``scripts/test_core_py310.sh``: the core on Humble's Python)
the tests marked ``ros`` are skipped and the modules that cannot even be imported without ROS
are not collected; ``pytest -m 'not ros'`` runs the same ROS-free part where ROS is installed.
"""

import importlib.util
import os
import random
import sys

from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR, REPO
import numpy as np
import pytest

os.environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('ROS_LOG_DIR', str(REPO / 'log' / 'ros'))
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(REPO / 'config' / 'fastdds.xml'))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Never the user's fixed domain (scripts/ros_env.sh): in-process DDS of a test run is private.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
os.environ.pop('ROS_LOCALHOST_ONLY', None)

HAS_ROS = importlib.util.find_spec('rclpy') is not None

# Modules that import ROS 2 at the top, so cannot be collected without it: the ROS layer's
# tests and the ROS tooling's (colcon, the ament linters, catkin_pkg, the ROS programs of
# run.sh). Each also carries ``pytestmark = pytest.mark.ros``.
ROS_ONLY_MODULES = ('test_ros_*.py', 'test_colcon_build.py', 'test_flake8.py', 'test_pep257.py',
                    'test_xml.py', 'test_run_script.py')
if not HAS_ROS:
    collect_ignore_glob = list(ROS_ONLY_MODULES)


def pytest_collection_modifyitems(config, items):
    """Mark the ROS layer's tests ``ros``; without rclpy, skip every test marked ``ros``."""
    skip = pytest.mark.skip(reason='needs ROS 2 (rclpy is not installed)')
    for item in items:
        # The layer's naming rule: a test_ros_ module is ROS even if it forgets its pytestmark.
        if item.path.name.startswith('test_ros_'):
            item.add_marker(pytest.mark.ros)
        if not HAS_ROS and item.get_closest_marker('ros') is not None:
            item.add_marker(skip)


@pytest.fixture(scope='session')
def fixture_detector():
    """Return the parity fixture's hand detector, CPU, float32 (shared: do not change it)."""
    from wilor_ros.detector import load_detector

    return load_detector(DETECTOR, 'cpu')


@pytest.fixture(scope='session')
def fixture_reconstructor():
    """Return the parity fixture's WiLoR reconstructor, CPU, float32 (shared: do not change it)."""
    from wilor_ros.reconstructor import load_reconstructor

    return load_reconstructor(RECONSTRUCTOR, 'cpu')


@pytest.fixture(scope='session')
def make_fixture_pipeline(fixture_detector, fixture_reconstructor):
    """Return a factory: HandPipeline keyword options -> a pipeline on the fixture networks."""
    from wilor_ros.pipeline import HandPipeline

    def make(**options):
        return HandPipeline(fixture_detector, fixture_reconstructor, **options)
    return make


@pytest.fixture(scope='module')
def simulated_pipeline():
    """Return (tracer, pipeline): the fixture networks on gpu_tracer's simulated cuda:0, fp32."""
    from gpu_tracer import CUDA, SimulatedCuda
    from wilor_ros.detector import load_detector
    from wilor_ros.pipeline import HandPipeline
    from wilor_ros.reconstructor import load_reconstructor

    tracer = SimulatedCuda()
    with tracer:
        pipe = HandPipeline(load_detector(DETECTOR, CUDA),
                            load_reconstructor(RECONSTRUCTOR, CUDA, dtype='fp32'),
                            conf=0.3, max_hands=2)
    return tracer, pipe


@pytest.fixture(scope='session')
def fixture_pipeline(make_fixture_pipeline):
    """Return the fixture networks' pipeline with conf 0.25 (the fixture image's hands pass)."""
    return make_fixture_pipeline(conf=0.25)


@pytest.fixture()
def fixture_image():
    """Return the detector fixture's 640x480 BGR image (a left and a right hand), a fresh copy."""
    return np.load(DETECT_NPZ)['image']


@pytest.fixture(scope='session')
def fixture_camera_matrix():
    """Return the 600 px camera of :func:`fixture_hands`, principal point at the image centre."""
    return np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope='session')
def fixture_hands(fixture_pipeline, fixture_camera_matrix):
    """Return the hands of :func:`fixture_pipeline` on the fixture image (both sides)."""
    found = fixture_pipeline(np.load(DETECT_NPZ)['image'], camera_matrix=fixture_camera_matrix)
    assert {hand.is_right for hand in found} == {False, True}, 'fixture needs both sides'
    return found
