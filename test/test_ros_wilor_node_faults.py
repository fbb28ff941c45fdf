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
wilor_node under faults over real DDS: whatever arrives, it never goes silent.

The rig of ``test_ros_wilor_node.py`` (camera, node and probe processes; tracking and smoothing
on here, as deployed) gets bad input of several kinds in quick succession, absurd camera
intrinsics, extreme but legal frame sizes and the largest frame the node admits; further nodes
get a network whose output is degenerate (NaN), broken weights files and malformed
``--ros-args``. Every legal frame must give a HandArray without a single non-finite number,
and the next good frame must be processed normally.
"""

import collections

from bad_weights import BAD_WEIGHT_KINDS, malicious_marker, write_bad_weights
from fixture_paths import DETECTOR, RECONSTRUCTOR
import pytest
from ros_harness import needs_large_best_effort, node_process, node_rig, ros_env, RosProcess
from test_ros_wilor_node import CAMERA_INFO, HEURISTIC, Rig

from wilor_ros.ros.node_parameters import PARAMETERS

pytestmark = pytest.mark.ros

MAX_IMAGE_PIXELS = next(spec.default for spec in PARAMETERS if spec.name == 'max_image_pixels')


@pytest.fixture(scope='module')
def rig():
    env = ros_env()
    node = node_process(env)
    with node_rig(node, env) as (camera, probe):
        assert probe('wait_publisher')['matched'], node.output
        rig = Rig(env, node, camera, probe)
        rig.wait_for_camera_info()
        yield rig


def errors(rig, node='wilor_node'):
    """Error counters by kind from the node's diagnostics."""
    return collections.Counter({key[len('errors.'):]: int(value)
                                for key, value in rig.diagnostics(node).items()
                                if key.startswith('errors.')})


def assert_normal(received, focal_source=CAMERA_INFO):
    """Check a good frame's hands: found, finite, tracked, placed with the expected camera."""
    assert received['hands'], received
    for hand in received['hands']:
        assert hand['finite'] and hand['id'] and hand['focal_source'] == focal_source, hand


def test_each_kind_of_bad_input_is_logged(rig):
    # First in this module, so no kind sent here was logged within the throttle period before.
    # Four kinds within a few seconds: throttled per call site, only the first of each site
    # was logged; per kind, each is.
    mark = len(rig.node.lines)
    before = errors(rig)
    for kind in ('step', 'encoding'):
        count = errors(rig)['bad_image']
        rig.camera('bad', kind=kind, stamp=rig.stamp())
        rig.wait_for_count('errors.bad_image', count)
    rig.process(fx=0.0)
    rig.process(fx=float('nan'))
    after = errors(rig)
    assert after['bad_image'] - before['bad_image'] >= 2
    assert after['camera_info_invalid'] - before['camera_info_invalid'] >= 2
    logged = [line for line in rig.node.lines[mark:] if '[WARN]' in line]
    for words in ('needs step >=', 'unsupported image encoding',
                  'focal lengths must lie in', 'must be finite'):
        lines = [line for line in logged if words in line]
        assert len(lines) == 1, (words, logged)
    assert_normal(rig.process(fx=600.0))


@pytest.mark.parametrize('fx', [1e300, 0.0, -600.0, float('nan')])
def test_absurd_intrinsics_fall_back_to_the_heuristic_and_stay_finite(rig, fx):
    before = errors(rig)['camera_info_invalid']
    assert_normal(rig.process(fx=fx), focal_source=HEURISTIC)
    assert errors(rig)['camera_info_invalid'] > before
    # The tracker and the smoothing filters went on: the next good frame is normal.
    for _ in range(2):
        assert_normal(rig.process(fx=600.0))


@pytest.mark.parametrize('size', [[4000, 2], [2, 4000], [1, 1]])
def test_extreme_but_legal_frame_sizes_give_a_hand_array(rig, size):
    before = errors(rig)
    received = rig.process(fx=600.0, info_size=size, size=size, encoding='rgb8')
    assert all(hand['finite'] for hand in received['hands'])
    assert errors(rig) == before, rig.node.output
    assert_normal(rig.process(fx=600.0))


@needs_large_best_effort
def test_the_largest_admitted_frame_arrives_with_the_default_qos(rig):
    # 4K UHD bgra8 (33 MB) is the largest frame the default max_image_pixels admits in any
    # 8-bit encoding; over best effort it only arrives when the shared-memory segment holds it.
    width, height = 3840, 2160
    assert width * height == MAX_IMAGE_PIXELS
    received = rig.process(fx=2000.0, size=[width, height], info_size=[width, height],
                           encoding='bgra8', attempts=3)
    assert_normal(received)
    before = errors(rig)['bad_image']
    rig.camera('frame', stamp=rig.stamp(), size=[width + 1, height], encoding='bgr8')
    rig.wait_for_count('errors.bad_image', before)
    assert_normal(rig.process(fx=600.0))


def nan_checkpoint(path):
    """Write the fixture reconstructor with a NaN camera head: every hand's depth is NaN."""
    import torch

    from wilor_ros.models.checkpoint_io import load_checkpoint

    state = {key: value.clone()
             for key, value in load_checkpoint(RECONSTRUCTOR)['state_dict'].items()}
    state['refine_net.dec_cam.bias'][:] = float('nan')
    torch.save({'state_dict': state}, path)
    return path


def test_a_degenerate_network_output_never_reaches_a_message(rig, tmp_path):
    node = node_process(rig.env, '-r', '__ns:=/nan', '-r', '__node:=wilor_node_nan',
                        reconstructor=nan_checkpoint(tmp_path / 'nan.ckpt'))
    try:
        node.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
        assert rig.camera('wait_match', topic='/nan/image')['matched']
        assert rig.probe('wait_publisher', ns='/nan')['matched']
        for _ in range(3):
            received = rig.process(ns='/nan', topic='/nan/image', info_topic='/nan/camera_info',
                                   fx=600.0)
            assert received['hands'] == []  # 8 hands found, none of them finite
        assert errors(rig, 'wilor_node_nan')['non_finite_hand'] >= 3 * 8
        warnings = [line for line in node.lines if 'non-finite' in line]
        # Throttled: one warning, then at most a summary line per throttle period (frames may
        # be more than a period apart when DDS repairs a lost sample), never one per hand.
        assert '[WARN]' in warnings[0] and 'more like it' not in warnings[0], node.output
        assert all('more like it not logged' in line for line in warnings[1:]), node.output
        assert len(warnings) <= 3, node.output
    finally:
        node.stop()
    assert_normal(rig.process(fx=600.0))


def start_and_fail(*ros_arguments):
    """Run wilor_node with ``ros_arguments``; return (exit code, non-empty output lines)."""
    process = RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args', '-p', 'autostart:=true',
                          *ros_arguments], ros_env())
    code = process.finish(timeout=60)
    return code, [line for line in process.lines if line.strip()]


@pytest.mark.parametrize('network,kind', [('reconstructor', kind) for kind in BAD_WEIGHT_KINDS]
                         + [('detector', 'empty'), ('detector', 'short_tensor')])
def test_bad_weights_stop_the_node_with_one_clear_line(tmp_path, network, kind):
    weights = write_bad_weights(tmp_path, kind, network)
    paths = {'detector': DETECTOR, 'reconstructor': RECONSTRUCTOR, network: weights}
    code, lines = start_and_fail('-p', f'detector_path:={paths["detector"]}',
                                 '-p', f'reconstructor_path:={paths["reconstructor"]}',
                                 '-p', 'device:=cpu')
    assert code == 1, lines
    # One clear line: the FATAL naming the file. Only INFO lines may come with it (the node
    # says what it loads before loading); no traceback, no second error.
    others = [line for line in lines if not line.startswith('[INFO]')]
    assert len(others) == 1, lines
    fatal = others[0]
    assert '[FATAL]' in fatal and str(weights) in fatal and 'wilor-download' in fatal, lines
    assert not any('Traceback' in line for line in lines), lines
    assert not malicious_marker(tmp_path).exists()


@pytest.mark.parametrize('arguments,words', [
    (['-p', 'detection.confidence'], "parameter override rule: '-p detection.confidence'"),
    (['-r', 'image'], "remap rule: '-r image'"),
    (['--params-file', '/nonexistent/wilor.yaml'], 'params file'),
])
def test_malformed_ros_arguments_give_one_clear_line(arguments, words):
    code, lines = start_and_fail(*arguments)
    assert code == 2, lines
    ours = [line for line in lines if 'invalid --ros-args' in line]
    assert len(ours) == 1 and words in ours[0], lines
    assert '.c:' not in ours[0]  # no C source locations
    assert not any('Traceback' in line for line in lines), lines


def test_an_unexpected_error_in_configure_is_logged_with_its_cause():
    # A bug (or a library's unexpected exception) while configuring: injected by replacing
    # the after-tracking builder in the node's process before main() runs.
    code = ('import sys; import wilor_ros.ros.wilor_node as node\n'
            'def broken(*args):\n'
            '    raise KeyError("the injected fault")\n'
            'node.build_after_tracking = broken\n'
            'sys.exit(node.main())')
    process = RosProcess(['-c', code, '--ros-args', '-p', 'autostart:=true',
                          '-p', f'detector_path:={DETECTOR}',
                          '-p', f'reconstructor_path:={RECONSTRUCTOR}', '-p', 'device:=cpu'],
                         ros_env())
    status = process.finish(timeout=90)
    lines = [line for line in process.lines if line.strip()]
    assert status == 1, lines
    # rclpy alone says only "Failed to complete transition"; the node says why and where.
    fatal = [line for line in lines if '[FATAL]' in line and 'configure failed' in line]
    assert len(fatal) == 1 and "KeyError('the injected fault')" in fatal[0], lines
    assert any('in broken' in line for line in lines), lines
