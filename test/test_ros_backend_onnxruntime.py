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
The node over DDS with ``backend: onnxruntime``: the same hands as the torch pipeline.

The ONNX files are exported once by ``wilor-export`` (the user's command) into a private cache
before the node starts, so the node's start-up only loads them; the node then runs the
fixture image through ONNX Runtime and its hands must match the torch pipeline's within the
export's deviation (the random-weight fixture amplifies a 1e-3 px box difference into ~5e-4 m
of mesh: test_backends_onnx.py measures both).
"""

import subprocess
import sys

from fixture_paths import DETECTOR, FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
from ros_harness import node_process, node_rig, ros_env

pytestmark = [pytest.mark.ros,
              pytest.mark.skipif(__import__('importlib').util.find_spec('onnxruntime') is None,
                                 reason='onnxruntime is not installed')]

CONFIDENCE = 0.25  # node_process's detection threshold
CAMERA_INFO = 1


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    cache = tmp_path_factory.mktemp('wilor_cache')
    env = ros_env(WILOR_ROS_CACHE=cache)
    exported = subprocess.run([sys.executable, '-m', 'wilor_ros.tools.export',
                               '--detector', str(DETECTOR), '--reconstructor',
                               str(RECONSTRUCTOR), '--image-size', '480x640'],
                              env=env, capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    node = node_process(env, '-p', 'smoothing.enabled:=false', '-p', 'backend:=onnxruntime')
    with node_rig(node, env) as (camera, probe):
        assert probe('wait_publisher')['matched'], node.output
        yield node, camera, probe


def test_the_node_on_onnxruntime_gives_the_torch_pipelines_hands(rig, make_fixture_pipeline):
    node, camera, probe = rig
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    matrix = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])
    expected = make_fixture_pipeline(conf=CONFIDENCE)(image, camera_matrix=matrix)
    received = None
    for second in range(2000, 2010):
        stamp = [second, 500]
        camera('frame', stamp=stamp, fx=600.0)
        reply = probe('hands', stamp=stamp, timeout=10.0)
        if reply.get('timeout') or not reply['hands']:
            continue
        if all(hand['focal_source'] == CAMERA_INFO for hand in reply['hands']):
            received = reply
            break
    assert received is not None, node.output
    assert 'onnxruntime' in node.output, node.output
    assert len(received['hands']) == len(expected) > 0
    for got, want in zip(received['hands'], expected):
        assert got['side'] == int(want.is_right)
        np.testing.assert_allclose(got['bbox'], want.box, atol=0.05)
        np.testing.assert_allclose(got['cam_t'], want.cam_t, atol=2e-3)
        assert got['finite']
