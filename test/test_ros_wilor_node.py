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
wilor_node over real DDS: camera process -> node process -> probe process (loopback only).

One node (tiny fixture weights, CPU) serves most tests; ``node_camera.py`` publishes the
detector fixture image with chosen stamps, camera_info and malformed variants, and
``node_probe.py`` records the node's outputs by stamp, reads /diagnostics and sets parameters
through the node's SetParameters service. The expected hands come from HandPipeline run here
with the node's parameters on the same image.
"""

from fixture_paths import FIXTURES, RECONSTRUCTOR
import numpy as np
import pytest
from ros_harness import node_process, node_rig, RELIABLE_IMAGES, ros_env, RosProcess

pytestmark = pytest.mark.ros

# The fixture detector finds 8 hands at this confidence on the fixture image.
CONFIDENCE = 0.25
RIGHT, CAMERA_INFO, HEURISTIC = 1, 1, 0


def camera_matrix(fx, fy=None):
    """K as node_camera.py publishes it for the 640x480 fixture image."""
    return np.array([[fx, 0.0, 319.5], [0.0, fy or fx, 239.5], [0.0, 0.0, 1.0]])


class Rig:
    """The three processes of a test run and the helpers that drive them."""

    def __init__(self, env, node, camera, probe):
        self.env = env
        self.node, self.camera, self.probe = node, camera, probe
        self._sec = 1000

    def stamp(self):
        self._sec += 1
        return [self._sec, 500]

    def process(self, what='hands', ns='', attempts=6, send='frame', topic='image', **frame):
        """Publish a frame and return the node's ``what`` output for it (with its stamp)."""
        for _ in range(attempts):
            stamp = self.stamp()
            self.camera(send, stamp=stamp, topic=topic, **frame)
            reply = self.probe(what, stamp=stamp, ns=ns, timeout=4.0)
            if not reply.get('timeout'):
                return dict(reply, sent_stamp=stamp)
        raise AssertionError(f'no {what} for {attempts} frames; node output:\n'
                             f'{self.node.output}')

    def diagnostics(self, node='wilor_node'):
        status = self.probe('diagnostics', node=node, timeout=10.0)
        assert not status.get('timeout'), self.node.output
        return status['values']

    def counters_after_processing(self, node='wilor_node', ns='', **frame):
        """Diagnostics counters once every frame sent so far is fully processed."""
        # The worker is sequential: when the hands of a new frame arrive, every earlier
        # frame has been finished, markers and debug image included.
        self.process(ns=ns, **frame)
        return self.diagnostics(node)

    def wait_for_camera_info(self, attempts=6):
        """
        Send calibrated frames until the node places hands with their camera_info.

        The camera's camera_info publisher sees the node's reader match before that
        best-effort reader has matched it in turn; what it sends in between is lost, so a test
        whose first camera_info matters waits here first.
        """
        for _ in range(attempts):
            hands = self.process(fx=600.0)['hands']
            if hands and all(hand['focal_source'] == CAMERA_INFO for hand in hands):
                return
        raise AssertionError(f'camera_info never used; node output:\n{self.node.output}')

    def wait_for_count(self, key, above, node='wilor_node', timeout_frames=10):
        """Wait until the diagnostics value ``key`` exceeds ``above``; return it."""
        for _ in range(timeout_frames):
            value = int(self.diagnostics(node).get(key, 0))
            if value > above:
                return value
        raise AssertionError(f'{key} stayed at {above}; node output:\n{self.node.output}')


@pytest.fixture(scope='module')
def rig():
    env = ros_env()
    node = node_process(env, '-p', 'smoothing.enabled:=false')
    with node_rig(node, env) as (camera, probe):
        assert probe('wait_publisher')['matched'], node.output
        rig = Rig(env, node, camera, probe)
        rig.wait_for_camera_info()
        yield rig


@pytest.fixture(scope='module')
def image():
    return np.load(FIXTURES / 'detector' / 'detect.npz')['image']


@pytest.fixture(scope='module')
def pipeline(make_fixture_pipeline):
    return make_fixture_pipeline(conf=CONFIDENCE)


def assert_matches_pipeline(received, expected):
    assert len(received['hands']) == len(expected) > 0
    for got, want in zip(received['hands'], expected):
        assert got['side'] == (RIGHT if want.is_right else 0)
        assert got['score'] == pytest.approx(want.score, abs=1e-4)
        np.testing.assert_allclose(got['bbox'], want.box, atol=1e-2)
        np.testing.assert_allclose(got['cam_t'], want.cam_t, rtol=1e-3, atol=1e-5)
        assert got['focal_length'] == pytest.approx(want.focal_length.tolist())
        assert got['vertices'] == 778 * 3 and got['finite']


def test_hands_match_the_pipeline_and_depth_scales_with_fx(rig, pipeline, image):
    near = rig.process(fx=600.0, encoding='rgb8')
    far = rig.process(fx=1200.0, encoding='bgr8')
    # The header is the image's: the probe filed the output under the stamp it carries.
    assert (near['stamp'], near['frame_id']) == (near['sent_stamp'], 'cam_optical')
    for received, fx in ((near, 600.0), (far, 1200.0)):
        assert_matches_pipeline(received, pipeline(image, camera_matrix=camera_matrix(fx)))
        assert {hand['focal_source'] for hand in received['hands']} == {CAMERA_INFO}
    # A camera with twice the focal length sees the same hands twice as far away.
    for a, b in zip(near['hands'], far['hands']):
        assert b['cam_t'][2] == pytest.approx(2 * a['cam_t'][2], rel=1e-4)
        assert b['cam_t'][:2] == pytest.approx(a['cam_t'][:2], rel=1e-4, abs=1e-6)
    # Tracking: ids are set, unique per frame, and the same hands keep them.
    ids = [hand['id'] for hand in near['hands']]
    assert all(ids) and len(set(ids)) == len(ids)
    assert [hand['id'] for hand in far['hands']] == ids


def test_mano_faces_reach_a_late_subscriber(rig, pipeline):
    faces = rig.probe('mano_faces', timeout=10.0)
    assert faces == {'num_vertices': 778, 'indices': pipeline.faces.size,
                     'max_index': int(pipeline.faces.max()), 'frame_id': ''}


def test_without_camera_info_the_focal_heuristic_is_used(rig, pipeline, image):
    set_result = rig.probe('set_params', params={'use_camera_info': False})
    try:
        assert set_result['results'][0]['successful']
        received = rig.process(fx=600.0)
    finally:
        rig.probe('set_params', params={'use_camera_info': True})
    assert {hand['focal_source'] for hand in received['hands']} == {HEURISTIC}
    assert_matches_pipeline(received, pipeline(image))
    assert received['hands'][0]['focal_length'] == pytest.approx([5000 / 256 * 640] * 2)


def test_markers_obey_the_rviz_rules_over_dds(rig):
    from visualization_msgs.msg import Marker

    rig.probe('subscribe', what='markers')
    try:
        received = rig.process(what='markers', fx=600.0)
    finally:
        rig.probe('unsubscribe', what='markers')
    hands = rig.probe('hands', stamp=received['sent_stamp'])
    markers = received['markers']
    assert markers[0]['action'] == Marker.DELETEALL and markers[0]['ns'] == 'wilor_hands'
    assert len(markers) == 1 + 3 * len(hands['hands'])
    for marker in markers:
        assert marker['stamp'] == received['sent_stamp'] and marker['frame_id'] == 'cam_optical'
    for marker in markers[1:]:
        assert marker['action'] == Marker.ADD and marker['finite'] and marker['lifetime'] == 0
        assert marker['colors'] == 0 and marker['alpha'] > 0
        if marker['type'] == Marker.TRIANGLE_LIST:
            assert marker['points'] == 1538 * 3 and marker['scale'] == [1.0, 1.0, 1.0]
        elif marker['type'] == Marker.LINE_LIST:
            assert marker['points'] == 40
        else:
            assert marker['type'] == Marker.SPHERE_LIST and marker['points'] == 21
    assert sorted(m['type'] for m in markers[1:]) == sorted(
        [Marker.TRIANGLE_LIST, Marker.LINE_LIST, Marker.SPHERE_LIST] * len(hands['hands']))


def test_debug_image_is_built_only_while_subscribed(rig):
    unsubscribed = int(rig.counters_after_processing(fx=600.0)['published.debug_image'])
    rig.process(fx=600.0)
    assert int(rig.counters_after_processing(fx=600.0)['published.debug_image']) == unsubscribed

    rig.probe('subscribe', what='debug_image')
    try:
        debug = rig.process(what='debug_image', fx=600.0)
    finally:
        rig.probe('unsubscribe', what='debug_image')
    assert (debug['width'], debug['height'], debug['encoding']) == (640, 480, 'bgr8')
    assert (debug['stamp'], debug['frame_id']) == (debug['sent_stamp'], 'cam_optical')
    assert 0.0 < debug['changed_fraction'] < 1.0  # the hands are drawn over the image

    # Once the node has seen the subscriber leave, no more debug images are built.
    previous = int(rig.counters_after_processing(fx=600.0)['published.debug_image'])
    for _ in range(10):
        current = int(rig.counters_after_processing(fx=600.0)['published.debug_image'])
        if current == previous:
            break
        previous = current
    rig.process(fx=600.0)
    assert int(rig.counters_after_processing(fx=600.0)['published.debug_image']) == current


@pytest.mark.parametrize('params,words', [
    ({'detection.confidence': 1.5}, 'detection.confidence'),
    ({'detection.confidence': 'high'}, 'type'),  # rclpy's own type check
    ({'max_hands': 0}, 'max_hands'),
    ({'markers.left_color': [1.0, 2.0]}, 'markers.left_color must be 4 numbers'),
    ({'device': 'cuda'}, 'device'),
    ({'detector_path': '/tmp/other.pt'}, 'detector_path'),
])
def test_invalid_parameters_are_rejected_with_a_reason(rig, params, words):
    before = rig.probe('get_params', names=list(params))
    result = rig.probe('set_params', params=params)['results'][0]
    assert not result['successful']
    assert words in result['reason'], result['reason']
    assert rig.probe('get_params', names=list(params)) == before


def test_image_qos_is_sensor_data_and_overridable(rig):
    # image_reliability:=reliable under WILOR_TEST_IMAGE_QOS=reliable (ros_harness.py).
    prefix = 'qos_overrides./image.subscription.'
    values = rig.probe('get_params', names=[prefix + 'reliability', prefix + 'depth'])
    expected = 'reliable' if RELIABLE_IMAGES else 'best_effort'
    assert values == {prefix + 'reliability': expected, prefix + 'depth': 5}


def test_a_threshold_change_applies_to_the_next_frame(rig, pipeline, image):
    expected = len(pipeline(image, camera_matrix=camera_matrix(600.0)))
    result = rig.probe('set_params', params={'detection.confidence': 0.99})['results'][0]
    try:
        assert result['successful'], result
        assert rig.process(fx=600.0)['hands'] == []
    finally:
        rig.probe('set_params', params={'detection.confidence': CONFIDENCE})
    assert len(rig.process(fx=600.0)['hands']) == expected


@pytest.mark.parametrize('kind', ['step', 'short', 'encoding', 'empty', 'huge'])
def test_malformed_images_are_survived(rig, kind):
    errors = int(rig.counters_after_processing(fx=600.0).get('errors.bad_image', 0))
    bad_stamp = rig.stamp()
    rig.camera('bad', kind=kind, stamp=bad_stamp)
    rig.wait_for_count('errors.bad_image', errors)
    # No output for the bad frame; the next good frame is processed normally.
    assert rig.probe('hands', stamp=bad_stamp, timeout=0.2).get('timeout')
    assert len(rig.process(fx=600.0)['hands']) > 0


@pytest.mark.parametrize('camera_info,error', [
    ({'k_zero': True}, 'errors.camera_info_invalid'),
    ({'fx': 600.0, 'info_size': [320, 240]}, 'errors.camera_info_size'),
])
def test_unusable_camera_info_falls_back_to_the_heuristic(rig, camera_info, error):
    before = int(rig.counters_after_processing(fx=600.0).get(error, 0))
    received = rig.process(**camera_info)
    assert {hand['focal_source'] for hand in received['hands']} == {HEURISTIC}
    assert int(rig.counters_after_processing(fx=600.0).get(error, 0)) > before


def node_rss_bytes(process):
    with open(f'/proc/{process.proc.pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS')


def test_a_flood_of_images_is_dropped_not_queued(rig):
    # Warm up at the flood rate so the allocator has seen this load before measuring.
    rig.camera('flood', rate=60.0, seconds=1.0, first_sec=rig.stamp()[0] + 10, timeout=5.0)
    rig._sec += 100
    before = rig.counters_after_processing(fx=600.0)
    rss_before = node_rss_bytes(rig.node)
    hands_before = rig.probe('count', what='hands')['count']

    rig.camera.send('flood', rate=60.0, seconds=3.0, first_sec=rig.stamp()[0] + 10)
    # The executor keeps serving the parameter services while the worker is busy.
    answers = [rig.probe('get_params', names=['detection.confidence'])
               for _ in range(3)]
    flood = rig.camera.reply(timeout=30.0)
    rig._sec += 300
    after = rig.counters_after_processing(fx=600.0)
    rss_after = node_rss_bytes(rig.node)
    hands_during = rig.probe('count', what='hands')['count'] - hands_before

    assert flood['published'] == 180
    assert answers == [{'detection.confidence': CONFIDENCE}] * 3
    received, processed, dropped = (int(after[key]) - int(before[key]) for key in (
        'frames_received', 'frames_processed', 'frames_dropped'))
    # Best effort may lose a few samples in DDS; the node counts what reached it.
    assert received >= 0.5 * flood['published'], (before, after)
    # Every frame that reached the node was either processed or dropped for a newer one (the
    # last one may be counted processed a moment after its hands were published).
    assert abs(received - processed - dropped) <= 1, (before, after)
    assert dropped > received / 2, (before, after)
    assert hands_during >= 3, 'the node kept answering while flooded'
    # One frame is 0.9 MB: queueing the flood would grow the node by 150 MB.
    assert rss_after - rss_before < 40e6, (rss_before, rss_after)


def test_compressed_input_and_undecodable_data(rig, pipeline):
    import cv2

    node = node_process(rig.env, '-p', 'image_transport:=compressed',
                        '-r', '__ns:=/comp', '-r', '__node:=wilor_node_compressed')
    try:
        node.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
        assert '/comp/image/compressed' in node.output
        assert rig.camera('wait_match', topic='/comp/image/compressed',
                          compressed=True)['matched']
        assert rig.probe('wait_publisher', ns='/comp')['matched']
        image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
        decoded = cv2.imdecode(cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1],
                               cv2.IMREAD_COLOR)
        topic = '/comp/image/compressed'
        received = rig.process(ns='/comp', send='compressed', topic=topic)
        assert len(received['hands']) == len(pipeline(decoded)) > 0

        errors = int(rig.diagnostics('wilor_node_compressed').get('errors.bad_image', 0))
        rig.camera('bad', kind='garbage', stamp=rig.stamp(), topic=topic)
        rig.wait_for_count('errors.bad_image', errors, node='wilor_node_compressed')
        assert len(rig.process(ns='/comp', send='compressed', topic=topic)['hands']) > 0
    finally:
        node.stop()


@pytest.mark.parametrize('problem', ['missing', 'damaged'])
def test_unusable_weights_stop_the_node_with_one_clear_error(tmp_path, problem):
    weights = tmp_path / 'detector.pt'
    if problem == 'damaged':
        weights.write_bytes(b'not a checkpoint' * 100)
    process = RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args', '-p', 'autostart:=true',
                          '-p', f'detector_path:={weights}',
                          '-p', f'reconstructor_path:={RECONSTRUCTOR}'], ros_env())
    assert process.finish(timeout=60) == 1, process.output
    assert str(weights) in process.output
    if problem == 'missing':
        assert 'wilor-download' in process.output
    assert 'Traceback' not in process.output
