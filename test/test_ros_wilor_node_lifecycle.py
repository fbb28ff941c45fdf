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

"""wilor_node's lifecycle over DDS: driven through its lifecycle services from another process."""

import pytest
from ros_harness import DrivenProcess, node_process, PROGRAMS, ros_env

pytestmark = pytest.mark.ros


def test_transitions_gate_the_outputs_and_release_the_networks():
    env = ros_env()
    node = node_process(env, '-p', 'smoothing.enabled:=false', autostart=False)
    camera = DrivenProcess([PROGRAMS / 'node_camera.py'], env)
    probe = DrivenProcess([PROGRAMS / 'node_probe.py'], env)
    sec = [2000]

    def hands_for_a_new_frame(timeout=4.0):
        sec[0] += 1
        camera('frame', stamp=[sec[0], 0], fx=600.0)
        return probe('hands', stamp=[sec[0], 0], timeout=timeout)

    try:
        for process in (camera, probe):
            process.wait_for_line(lambda line: line == 'READY', timeout=30)
        node.wait_for_line(lambda line: 'waiting for the lifecycle transitions' in line,
                           timeout=60)
        assert probe('state')['state'] == 'unconfigured'
        # Unconfigured: nothing subscribes to the images, nothing is published.
        assert not camera('wait_match', topic='image', timeout=1.0)['matched']

        assert probe('transition', transition='configure')['success'], node.output
        assert probe('state')['state'] == 'inactive'
        assert 'loaded' in node.output  # configure loaded the networks
        assert not camera('wait_match', topic='image', timeout=1.0)['matched']

        assert probe('transition', transition='activate')['success'], node.output
        assert probe('state')['state'] == 'active'
        assert camera('wait_match', topic='image')['matched'], node.output
        assert probe('wait_publisher')['matched'], node.output
        for _ in range(5):  # the first frames may race the discovery of the probe
            reply = hands_for_a_new_frame()
            if not reply.get('timeout'):
                break
        assert len(reply['hands']) == 8, node.output
        assert probe('mano_faces')['num_vertices'] == 778

        assert probe('transition', transition='deactivate')['success'], node.output
        assert probe('state')['state'] == 'inactive'
        assert hands_for_a_new_frame(timeout=2.0).get('timeout')

        assert probe('transition', transition='activate')['success'], node.output
        assert camera('wait_match', topic='image')['matched'], node.output
        for _ in range(5):
            reply = hands_for_a_new_frame()
            if not reply.get('timeout'):
                break
        assert len(reply['hands']) == 8, node.output

        assert probe('transition', transition='deactivate')['success']
        assert probe('transition', transition='cleanup')['success'], node.output
        assert probe('state')['state'] == 'unconfigured'
        assert probe('transition', transition='unconfigured_shutdown')['success'], node.output
        assert probe('state')['state'] == 'finalized'
        assert 'Traceback' not in node.output
    finally:
        for process in (camera, probe, node):
            process.stop()
