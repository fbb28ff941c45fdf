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
The node's image size limit and the shipped Fast DDS transport agree.

Over best effort, Fast DDS loses a sample it cannot place in the writer's shared-memory segment,
or whose fragments overflow the reader's port queue, before the node could count it. So the
largest frame ``max_image_pixels`` admits, in any 8-bit encoding (bgra8: 4 bytes per pixel),
must fit twice (one frame being read while the next is written) in the segment of
``config/fastdds.xml``, in fragments of at most 64 KB (the UDP transport's limit, which Fast
DDS applies to every transport of the participant).
"""

import math
import pathlib
import xml.etree.ElementTree as ElementTree

import pytest
from wilor_ros.ros.node_parameters import PARAMETERS
import yaml

pytestmark = pytest.mark.ros

REPO = pathlib.Path(__file__).resolve().parent.parent
NAMESPACE = {'dds': 'http://www.eprosima.com'}
BYTES_PER_PIXEL = 4  # bgra8 / rgba8, the widest 8-bit encoding
FRAMES_IN_FLIGHT = 2
FRAGMENT_BYTES = 64000  # a little under UDP's 65500, for the RTPS headers
DEFAULT_PORT_QUEUE_CAPACITY = 512  # Fast DDS's, when the profile does not set it


def shared_memory_transport():
    root = ElementTree.parse(REPO / 'config' / 'fastdds.xml').getroot()
    for descriptor in root.iterfind('.//dds:transport_descriptor', NAMESPACE):
        if descriptor.findtext('dds:type', namespaces=NAMESPACE) == 'SHM':
            return descriptor
    raise AssertionError('config/fastdds.xml has no SHM transport')


def default_max_image_pixels():
    return next(spec.default for spec in PARAMETERS if spec.name == 'max_image_pixels')


def test_the_params_file_ships_the_node_default():
    params = yaml.safe_load((REPO / 'config' / 'wilor.yaml').read_text())
    assert params['/**']['ros__parameters']['max_image_pixels'] == default_max_image_pixels()


def test_two_of_the_largest_admitted_frames_fit_the_shared_memory_segment():
    frame = default_max_image_pixels() * BYTES_PER_PIXEL
    segment = int(shared_memory_transport().findtext('dds:segment_size', namespaces=NAMESPACE))
    assert segment >= FRAMES_IN_FLIGHT * frame, (segment, frame)
    # Fast DDS commits the whole segment in /dev/shm for every process using the profile.
    assert segment <= 2 * FRAMES_IN_FLIGHT * frame


def test_their_fragments_fit_the_port_queue():
    capacity = shared_memory_transport().findtext('dds:port_queue_capacity',
                                                  namespaces=NAMESPACE)
    capacity = int(capacity) if capacity else DEFAULT_PORT_QUEUE_CAPACITY
    fragments = math.ceil(default_max_image_pixels() * BYTES_PER_PIXEL / FRAGMENT_BYTES)
    assert capacity >= FRAMES_IN_FLIGHT * fragments, (capacity, fragments)
