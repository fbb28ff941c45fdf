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

"""One-Euro smoothing: the benchmark's goals, SO(3) validity, rate independence, consistency."""

import importlib.util
import pathlib

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from wilor_ros.hand import HandResult
from wilor_ros.smoothing import (HandSmoother, OneEuroFilter, RotationOneEuroFilter,
                                 SmoothingConfig)

BENCH = pathlib.Path(__file__).resolve().parent.parent / 'bench' / 'bench_tracking.py'


def load_bench():
    spec = importlib.util.spec_from_file_location('bench_tracking', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rodrigues(axis_angle):
    """Axis-angle (N, 3) to matrices (N, 3, 3), written out so the test does not trust scipy."""
    angle = np.linalg.norm(axis_angle, axis=-1)[:, None, None]
    axis = axis_angle / np.maximum(angle[:, :, 0], 1e-12)
    x, y, z = axis.T
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(-1, 3, 3)
    return np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew


def make_hand(keypoints_3d, cam_t, rotations, rng, vertices=None):
    keypoints_2d = 600.0 * keypoints_3d[:, :2] / keypoints_3d[:, 2:] + [320.0, 240.0]
    return HandResult(
        is_right=True, score=0.9,
        box=np.concatenate([keypoints_2d.min(0), keypoints_2d.max(0)]).astype(np.float32),
        keypoints_3d=keypoints_3d.astype(np.float32), keypoints_2d=keypoints_2d.astype(np.float32),
        keypoints_2d_network=keypoints_2d.astype(np.float32),
        global_orient=rotations[0].astype(np.float32),
        hand_pose=rotations[1:].reshape(-1).astype(np.float32),
        betas=rng.normal(0, 0.1, 10).astype(np.float32), cam_t=cam_t.astype(np.float32),
        focal_length=600.0, principal_point=np.array([320.0, 240.0], np.float32),
        focal_from_camera_info=True,
        vertices=None if vertices is None else vertices.astype(np.float32))


@pytest.mark.parametrize('kind', ['regular', 'jittered'])
def test_benchmark_goals_hold_on_short_sequence(kind):
    bench = load_bench()
    # 3 s covers rest, the first 1 m/s sweep (1.5-2.0 s) and rest again.
    result = bench.run_sequence(kind, seed=7, config=SmoothingConfig(), duration=3.0)
    assert result['ids'] == 1
    assert bench.reduction(result['jitter']) >= 50.0
    assert bench.reduction(result['error']) > 0.0
    assert result['lag'][1] <= 1.2
    # The raw stream must show no delay, or the lag measure itself would be wrong.
    assert abs(result['lag'][0]) < 0.2
    assert bench.reduction(result['error_rotation']) > 0.0


def test_rotations_stay_proper_and_on_the_manifold_near_pi():
    # A still rotation of angle ~pi: noise flips the axis-angle vector between (almost) v and -v,
    # which averaging components would turn into garbage near the identity.
    rng = np.random.default_rng(0)
    truth = Rotation.from_rotvec(np.tile([[0.0, 0.0, np.pi - 0.01]], (16, 1)))
    rotation_filter = RotationOneEuroFilter(min_cutoff=1.0, beta=8.0, d_cutoff=2.0)
    raw_errors, filtered_errors = [], []
    for frame in range(60):
        noise = Rotation.from_rotvec(rng.normal(0, np.radians(3), (16, 3)))
        measured = (truth * noise).as_rotvec()
        out = rotation_filter(measured, 1.0 / 30.0 if frame else 0.0)
        if frame >= 10:
            raw_errors.append(noise.magnitude())
            filtered_errors.append((Rotation.from_rotvec(out).inv() * truth).magnitude())
        matrices = rodrigues(out)
        np.testing.assert_allclose(matrices @ matrices.transpose(0, 2, 1),
                                   np.broadcast_to(np.eye(3), (16, 3, 3)), atol=1e-9)
        np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-9)
        assert np.all(np.linalg.norm(out, axis=-1) <= np.pi + 1e-9)
    # Still within a few degrees of the truth (component averaging would be ~180 deg off),
    # and closer than the raw measurements.
    assert np.degrees(np.max(filtered_errors)) < 15.0
    assert np.mean(filtered_errors) < 0.8 * np.mean(raw_errors)


def test_smoothing_is_independent_of_frame_rate():
    def signal(t):
        position = np.stack([0.1 * np.sin(2 * np.pi * 0.7 * t), 0.05 * np.cos(2 * np.pi * t),
                             0.6 + 0.03 * np.sin(2 * np.pi * 0.4 * t)], axis=-1)
        rotation = np.stack([0.8 * np.sin(2 * np.pi * 0.5 * t), 0.3 * t, 0.2 + 0 * t], -1)
        return position, rotation

    def run(rate):
        stamps = np.arange(0.0, 3.0 + 1e-9, 1.0 / rate)
        position_filter = OneEuroFilter(1.0, 6.0, 2.0)
        rotation_filter = RotationOneEuroFilter(1.0, 8.0, 2.0)
        positions, rotations, previous = [], [], None
        for stamp in stamps:
            position, rotation = signal(np.array([stamp]))
            dt = 0.0 if previous is None else stamp - previous
            previous = stamp
            positions.append(position_filter(position, dt).copy())
            rotations.append(rotation_filter(rotation, dt))
        return stamps, np.concatenate(positions), np.concatenate(rotations)

    stamps_30, positions_30, rotations_30 = run(30)
    stamps_60, positions_60, rotations_60 = run(60)
    np.testing.assert_allclose(stamps_60[::2], stamps_30)
    after_start = stamps_30 > 0.5
    truth_position = signal(stamps_30)[0][after_start]
    # The filter does lag behind this motion (so the comparison below is meaningful) ...
    lag_error = np.linalg.norm(positions_30[after_start] - truth_position, axis=-1).max()
    assert lag_error > 0.002
    # ... but by the same time at both rates: outputs agree far better than the lag itself.
    difference = np.linalg.norm(positions_60[::2] - positions_30, axis=-1)[after_start].max()
    assert difference < 0.25 * lag_error
    rotation_difference = (Rotation.from_rotvec(rotations_60[::2]).inv()
                           * Rotation.from_rotvec(rotations_30)).magnitude()[after_start]
    rotation_lag = (Rotation.from_rotvec(rotations_30[after_start]).inv()
                    * Rotation.from_rotvec(signal(stamps_30)[1][after_start])).magnitude()
    assert rotation_difference.max() < 0.25 * rotation_lag.max()


def test_vertices_and_joints_stay_consistent_and_inputs_untouched():
    rng = np.random.default_rng(1)
    # Vertices as affine combinations of joints (rows sum to 1), like MANO's joint regressor
    # read backwards: after filtering the same combinations must hold.
    weights = rng.random((50, 21))
    weights /= weights.sum(1, keepdims=True)
    base = rng.normal(0, 0.04, (21, 3))
    smoother = HandSmoother(SmoothingConfig())
    for frame in range(20):
        stamp = frame / 30.0
        cam_t = np.array([0.3 * stamp, 0.0, 0.6]) + rng.normal(0, [0.002, 0.002, 0.015])
        keypoints = base + cam_t + rng.normal(0, 0.005, (21, 3))
        rotations = rng.normal(0, 0.5, (16, 3))
        hand = make_hand(keypoints, cam_t, rotations, rng, vertices=weights @ keypoints)
        before = {name: np.copy(getattr(hand, name)) for name in
                  ('keypoints_3d', 'vertices', 'cam_t', 'hand_pose', 'box', 'betas')}
        out = smoother(hand, stamp)
        for name, value in before.items():
            np.testing.assert_array_equal(getattr(hand, name), value)
            assert getattr(out, name) is not getattr(hand, name)
            assert getattr(out, name).dtype == np.float32
        np.testing.assert_allclose(out.vertices, weights @ out.keypoints_3d.astype(np.float64),
                                   atol=2e-6)
    # After a few frames the filtered hand really differs from the last measurement.
    assert np.abs(out.keypoints_3d - hand.keypoints_3d).max() > 1e-3


def test_repeated_stamp_gap_and_backwards_stamp():
    rng = np.random.default_rng(2)
    smoother = HandSmoother(SmoothingConfig(reset_after=0.5))
    hands = [make_hand(rng.normal(0, 0.05, (21, 3)) + [0, 0, 0.6], np.array([0, 0, 0.6]),
                       rng.normal(0, 0.3, (16, 3)), rng) for _ in range(4)]
    first = smoother(hands[0], 1.0)
    np.testing.assert_allclose(first.keypoints_3d, hands[0].keypoints_3d, atol=1e-6)
    second = smoother(hands[1], 1.04)
    assert not np.allclose(second.keypoints_3d, hands[1].keypoints_3d, atol=1e-4)
    # Same stamp again: no time has passed, so the estimate does not move.
    repeated = smoother(hands[2], 1.04)
    np.testing.assert_allclose(repeated.keypoints_3d, second.keypoints_3d, atol=1e-6)
    np.testing.assert_allclose(repeated.hand_pose, second.hand_pose, atol=1e-6)
    # A gap longer than reset_after or a stamp in the past restarts from the measurement.
    after_gap = smoother(hands[3], 2.0)
    np.testing.assert_allclose(after_gap.keypoints_3d, hands[3].keypoints_3d, atol=1e-6)
    backwards = smoother(hands[0], 1.5)
    np.testing.assert_allclose(backwards.keypoints_3d, hands[0].keypoints_3d, atol=1e-6)


def test_betas_are_smoothed_strongly():
    rng = np.random.default_rng(3)
    smoother = HandSmoother(SmoothingConfig())
    raw, filtered = [], []
    for frame in range(90):
        cam_t = np.array([0.0, 0.0, 0.6])
        hand = make_hand(rng.normal(0, 0.05, (21, 3)) + cam_t, cam_t,
                         rng.normal(0, 0.3, (16, 3)), rng)
        raw.append(hand.betas)
        filtered.append(smoother(hand, frame / 30.0).betas)
    assert np.std(filtered[30:], axis=0).mean() < 0.3 * np.std(raw[30:], axis=0).mean()


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError, match='min_cutoff'):
        SmoothingConfig(min_cutoff=0.0)
    with pytest.raises(ValueError, match='rotation_beta'):
        SmoothingConfig(rotation_beta=-1.0)
