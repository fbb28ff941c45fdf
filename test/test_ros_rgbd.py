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
wilor_node with RGB-D over real DDS: image + depth + camera_info in; hands, hands_raw, /tf out.

``rgbd_client.py`` (its own process) is the RGB-D camera and the TF listener. The depth image
is rendered here from the first fixture hand made 1.2x larger and farther (a monocular depth
error of the kind fusion corrects), so that hand must come back depth-sourced at scale 1.2
while the others keep their monocular depth.
"""

from fixture_paths import FIXTURES
import numpy as np
import pytest
from ros_harness import DrivenProcess, node_process, PROGRAMS, ros_env
from scipy.spatial.transform import Rotation

from wilor_ros.camera import intrinsics_from_values
from wilor_ros.depth_fusion import rasterize_depth

pytestmark = pytest.mark.ros

FX = 600.0
SCALE = 1.2
CAMERA_INFO, DEPTH = 1, 2
FRAME_PERIOD_NS = 33_333_333


@pytest.fixture(scope='module')
def scene(fixture_pipeline, tmp_path_factory):
    """Two frames (the fixture image, then shifted 6 px) with depth of the first hand x1.2."""
    folder = tmp_path_factory.mktemp('rgbd')
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    height, width = image.shape[:2]
    k = np.array([[FX, 0, (width - 1) / 2], [0, FX, (height - 1) / 2], [0, 0, 1]])
    intrinsics = intrinsics_from_values(FX, FX, (width - 1) / 2, (height - 1) / 2)
    frames = []
    for shift in (0, 6):
        shifted = np.roll(image, shift, axis=1)
        mono = fixture_pipeline(shifted, camera_matrix=k)
        depth = rasterize_depth(mono[0].vertices * SCALE, fixture_pipeline.faces, intrinsics,
                                image.shape).astype(np.float32)
        depth[~np.isfinite(depth)] = 0.0
        paths = {'image': folder / f'image_{shift}.npy', 'depth': folder / f'depth_{shift}.npy'}
        np.save(paths['image'], shifted)
        np.save(paths['depth'], depth)
        fused = fixture_pipeline(shifted, camera_matrix=k,
                                 depth=np.rint(depth * 1000).astype(np.uint16))
        frames.append({'paths': {name: str(path) for name, path in paths.items()},
                       'mono': mono, 'fused': fused, 'k': k})
    return frames


@pytest.fixture(scope='module')
def client():
    env = ros_env()
    node = node_process(env, '-p', 'depth.sync_tolerance:=0.005')
    client = DrivenProcess([PROGRAMS / 'rgbd_client.py'], env)
    try:
        client.wait_for_line(lambda line: line == 'READY', timeout=30)
        node.wait_for_line(lambda line: 'waiting for images' in line, timeout=60)
        assert client('wait_match')['matched'], node.output
        client.node = node
        yield client
    finally:
        for process in (client, node):
            process.stop()


class Clock:
    """Camera stamps 1/30 s apart (the filter restarts after gaps over 0.5 s)."""

    def __init__(self):
        self.ns = 2000 * 10**9

    def __call__(self):
        self.ns += FRAME_PERIOD_NS
        return [self.ns // 10**9, self.ns % 10**9]


@pytest.fixture(scope='module')
def clock():
    return Clock()


def send(client, clock, paths, depth=True):
    for _ in range(4):   # a frame lost by best-effort transport is sent again
        reply = client('frame', stamp=clock(), image=paths['image'],
                       depth=paths['depth'] if depth else None, fx=FX, timeout=20.0)
        if not reply.get('timeout'):
            return reply
    raise AssertionError(f'no output for 4 frames: {reply}\n{client.node.output}')


def test_depth_sourced_hands_and_their_wrist_frames_on_tf(client, clock, scene):
    reply = send(client, clock, scene[0]['paths'])
    hands = reply['hands']['hands']
    expected = scene[0]['fused']
    assert len(hands) == len(expected) > 1
    assert hands[0]['translation_source'] == DEPTH
    assert hands[0]['depth_scale'] == pytest.approx(SCALE, rel=5e-3)
    assert hands[0]['depth_inliers'] > 15
    np.testing.assert_allclose(hands[0]['cam_t'], expected[0].cam_t, rtol=1e-4)
    np.testing.assert_allclose(hands[0]['keypoint_confidence'], expected[0].keypoint_confidence,
                               atol=1e-6)
    # Every hand as the pipeline fuses it here; hands far from the rendered one find no depth
    # (0 = no data) and keep their monocular depth, said so.
    sources = {'camera_info': CAMERA_INFO, 'depth': DEPTH}
    for hand, want in zip(hands, expected):
        assert hand['translation_source'] == sources[want.translation_source]
        assert hand['depth_scale'] == pytest.approx(want.depth_scale, rel=1e-5)
        np.testing.assert_allclose(hand['cam_t'], want.cam_t, rtol=1e-4)
    assert CAMERA_INFO in {hand['translation_source'] for hand in hands}
    # One transform per hand, image frame -> hand_<id>, at the wrist, MANO global orientation.
    transforms = {t['child']: t for t in reply['tf']}
    assert set(transforms) == {f'hand_{hand["id"]}' for hand in hands}
    for hand in hands:
        transform = transforms[f'hand_{hand["id"]}']
        assert transform['parent'] == 'cam_optical'
        np.testing.assert_allclose(transform['translation'], hand['wrist'], atol=1e-6)
        rotation = Rotation.from_quat(transform['rotation'])
        expected_rotation = Rotation.from_rotvec(hand['global_orient'])
        assert (rotation.inv() * expected_rotation).magnitude() < 1e-5


def test_raw_and_filtered_hands_are_both_published(client, clock, scene):
    send(client, clock, scene[0]['paths'])
    reply = send(client, clock, scene[1]['paths'])
    raw, filtered = reply['hands_raw']['hands'], reply['hands']['hands']
    assert [h['id'] for h in raw] == [h['id'] for h in filtered]
    # Raw is the pipeline's output for this frame; filtered lags behind the 6 px move.
    expected = scene[1]['fused']
    for got, want in zip(raw, expected):
        np.testing.assert_allclose(got['cam_t'], want.cam_t, rtol=1e-4)
    moved = [np.linalg.norm(np.subtract(r['cam_t'], f['cam_t'])) for r, f in zip(raw, filtered)]
    assert max(moved) > 1e-3
    assert raw[0]['translation_source'] == filtered[0]['translation_source'] == DEPTH


def test_without_matching_depth_the_node_stays_monocular(client, clock, scene, fixture_pipeline):
    reply = send(client, clock, scene[0]['paths'], depth=False)
    hands = reply['hands_raw']['hands']
    assert {hand['translation_source'] for hand in hands} == {CAMERA_INFO}
    # The crops were mirrored by each track's side (the fixture's random detector puts 8
    # overlapping hands on the image, so a track may have taken over a neighbour's box).
    mono = scene[0]['mono']
    expected = fixture_pipeline.reconstruct(np.load(scene[0]['paths']['image']),
                                            [want.box for want in mono],
                                            [bool(hand['side']) for hand in hands],
                                            camera_matrix=scene[0]['k'])
    for hand, want in zip(hands, expected):
        np.testing.assert_allclose(hand['cam_t'], want.cam_t, rtol=1e-4)
    values = client('diagnostics', timeout=10.0)
    assert not values.get('timeout')
    assert int(values['depth_hands_fused']) >= 2 and int(values['depth_frames_unmatched']) >= 1
    # The filter's lag at typical speeds, from smoothing.min_cutoff 1 Hz and beta 6 s/m.
    assert values['filter_lag_ms_at_0.5_m_s'] == '40'
    assert values['filter_lag_ms_at_1_m_s'] == '23'
