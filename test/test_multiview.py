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
Multi-view fusion on synthetic scenes with known truth (bench/multiview_scenes.py).

Association (two hands of one person, two people, crossed hands), an outlier view (wrong
detection, wrong side) rejected, a hand one camera sees falls back to that camera's hand and
says so, cameras without a pose are left out with a warning, frames out of sync are left out.
"""

import dataclasses
import pathlib
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'bench'))
from multiview_scenes import (CAMERA_MATRIX, camera_rig, hand_skeleton,  # noqa: E402, I100
                              look_at, TrueHand, view_hand, wrong_detection, wrong_side)

from wilor_ros.hand_stream import CameraFrame, CameraHands  # noqa: E402, I100
from wilor_ros.multiview import MultiViewFusion, reference_stamp  # noqa: E402
from wilor_ros.multiview_triangulation import project, triangulate  # noqa: E402

# Three cameras 1 m from the origin, 0.5-0.7 m apart.
POSES = [look_at(np.array([np.cos(a), np.sin(a), 0.3]), np.zeros(3))
         for a in np.radians([0.0, 35.0, 75.0])]


def true_hand(rng, wrist, is_right=True, person=0, rotation=None):
    rotation = Rotation.random(random_state=rng) if rotation is None else rotation
    model = hand_skeleton(rng, is_right)
    return TrueHand(is_right, person, rotation.apply(model) + wrist, rotation, model)


def batch(views, stamps=None):
    """Return the CameraHands of per-camera hand lists (camera i is at POSES[i])."""
    results = []
    for index, hands in enumerate(views):
        stamp = 1.0 if stamps is None else stamps[index]
        frame = CameraFrame(image=None, stamp=stamp, camera=f'cam{index}',
                            camera_matrix=CAMERA_MATRIX)
        results.append(CameraHands(f'cam{index}', stamp, frame, list(hands), list(hands)))
    return results


def see(rng, truths, poses=POSES):
    views = [[view_hand(rng, pose, truth, 2.5) for truth in truths] for pose in poses]
    assert all(hand is not None for hands in views for hand in hands), 'hand out of view'
    return views


def fusion(poses=POSES, warnings=None, **kwargs):
    def pose(camera, stamp):
        index = int(camera[3:])
        return poses[index] if index < len(poses) and poses[index] is not None else None

    def warn(kind, text):
        if warnings is not None:
            warnings.append((kind, text))

    return MultiViewFusion('world', pose, warn=warn, **kwargs)


def error_mm(hand, truth):
    return 1000 * float(np.median(np.linalg.norm(hand.keypoints_3d - truth.joints, axis=1)))


def matched(hands, truths):
    """Pair each true hand with the fused hand of its side nearest to it (mean joint error)."""
    pairs = []
    for truth in truths:
        same = [h for h in hands if h.is_right == truth.is_right]
        assert same, 'a true hand has no fused hand of its side'
        pairs.append(min(same, key=lambda h: error_mm(h, truth)))
    return pairs


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_two_hands_of_one_person_fuse_into_two_metric_hands(seed):
    rng = np.random.default_rng(seed)
    truths = [true_hand(rng, np.array([0.0, 0.1, 0.0]), True),
              true_hand(rng, np.array([0.0, -0.12, 0.05]), False)]
    results = batch(see(rng, truths))
    step = fusion()
    step(results)
    output = results[0].outputs['fusion']
    assert all(r.outputs['fusion'] is output for r in results)
    assert output.frame == 'world' and output.stamp == 1.0
    assert len(output.hands) == 2
    for hand, truth in zip(matched(output.hands, truths), truths):
        assert hand.cameras == ('cam0', 'cam1', 'cam2')
        assert error_mm(hand, truth) < 8.0
        # The monocular hands are 10-40 % of a metre off; the fused one is not.
        assert hand.keypoint_uncertainty.shape == (21,)
        assert np.all(hand.keypoint_uncertainty > 0) and np.all(
            hand.keypoint_uncertainty < 0.03)
    assert len({hand.track_id for hand in output.hands}) == 2


def test_two_people_four_hands_each_fused_with_its_own_views():
    rng = np.random.default_rng(5)
    truths = [true_hand(rng, np.array([0.1, 0.15, 0.0]), True, 0),
              true_hand(rng, np.array([0.1, -0.05, 0.0]), False, 0),
              true_hand(rng, np.array([-0.15, 0.05, 0.15]), True, 1),
              true_hand(rng, np.array([-0.1, -0.2, 0.1]), False, 1)]
    output = fusion().fuse(batch(see(rng, truths)))
    assert len(output.hands) == 4
    hands = matched(output.hands, truths)
    assert len({id(hand) for hand in hands}) == 4
    for hand, truth in zip(hands, truths):
        assert len(hand.cameras) == 3
        assert error_mm(hand, truth) < 8.0


def test_crossed_hands_keep_their_sides():
    rng = np.random.default_rng(7)
    # Wrists 8 cm apart, the hands pointing across each other: their boxes overlap in 2D.
    truths = [true_hand(rng, np.array([0.0, 0.04, 0.0]), True,
                        rotation=Rotation.from_euler('z', -110, degrees=True)),
              true_hand(rng, np.array([0.0, -0.04, 0.02]), False,
                        rotation=Rotation.from_euler('z', 110, degrees=True))]
    output = fusion().fuse(batch(see(rng, truths)))
    assert sorted(hand.is_right for hand in output.hands) == [False, True]
    for hand, truth in zip(matched(output.hands, truths), truths):
        assert len(hand.cameras) == 3
        assert error_mm(hand, truth) < 8.0


@pytest.mark.parametrize('make', [wrong_detection, wrong_side])
def test_an_outlier_view_does_not_poison_the_fused_hand(make):
    rng = np.random.default_rng(11)
    truth = true_hand(rng, np.array([0.0, 0.0, 0.0]), True)
    views = see(rng, [truth])
    views[1] = [make(rng, POSES[1], truth, 2.5)]
    output = fusion().fuse(batch(views))
    fused = [hand for hand in output.hands if len(hand.cameras) > 1]
    assert len(fused) == 1
    assert fused[0].cameras == ('cam0', 'cam2')  # the outlier's camera is not among them
    assert error_mm(fused[0], truth) < 8.0
    if make is wrong_side:
        # The mirrored hand is the same hand seen again: dropped, not a second hand.
        assert len(output.hands) == 1 and output.rejected_views == 1


def four_views_of_a_hand(rng):
    """Return (truth, 3x4 projections, pixels with 2 px noise) for 4 cameras around a hand."""
    truth = true_hand(rng, np.zeros(3))
    poses = camera_rig(np.random.default_rng(4), 4)
    projections = np.stack([CAMERA_MATRIX @ np.linalg.inv(p)[:3] for p in poses])
    return truth, projections, project(projections, truth.joints) + rng.normal(0, 2.0, (4, 21, 2))


def test_triangulation_outvotes_a_wrong_view_joint_by_joint():
    rng = np.random.default_rng(3)
    truth, projections, pixels = four_views_of_a_hand(rng)
    clean = triangulate(projections, pixels, np.ones((4, 21)))
    pixels[2] += 60.0  # one view 60 px off everywhere
    robust = triangulate(projections, pixels, np.ones((4, 21)))
    assert not robust.inliers[2].any() and robust.inliers[[0, 1, 3]].all()
    error = np.linalg.norm(robust.points - truth.joints, axis=1)
    assert np.median(error) < 0.006
    three = triangulate(projections[:3], pixels[:3] - np.array([0, 0, 60.0])[:, None, None],
                        np.ones((3, 21)))
    # More views, less uncertainty; the stated uncertainty is of the size of the error.
    assert np.median(clean.uncertainty) < np.median(three.uncertainty)
    clean_error = np.linalg.norm(clean.points - truth.joints, axis=1)
    assert np.mean(clean_error <= 2 * clean.uncertainty) > 0.8


def test_a_hand_one_camera_sees_is_that_cameras_hand_marked_as_such():
    rng = np.random.default_rng(13)
    truth = true_hand(rng, np.array([0.05, 0.0, 0.0]))
    views = see(rng, [truth])
    views[0], views[2] = [], []
    results = batch(views)
    output = fusion().fuse(results)
    assert len(output.hands) == 1
    hand = output.hands[0]
    assert hand.cameras == ('cam1',)
    assert hand.translation_source == 'camera_info'
    # Its own (monocular) joints, moved into the common frame.
    own = results[1].raw_hands[0].keypoints_3d
    expected = own @ POSES[1][:3, :3].T + POSES[1][:3, 3]
    np.testing.assert_allclose(hand.keypoints_3d, expected, atol=1e-5)
    # The uncertainty says how far off a monocular depth is (a quarter of the distance).
    depth = np.linalg.norm(truth.joints[0] - POSES[1][:3, 3])
    assert 0.15 * depth < np.median(hand.keypoint_uncertainty) < 0.4 * depth
    assert not np.any(hand.keypoints_2d) and not np.any(hand.focal_length)


def test_cameras_without_a_pose_are_left_out_with_a_warning():
    rng = np.random.default_rng(17)
    truth = true_hand(rng, np.zeros(3))
    views = see(rng, [truth])
    warnings = []
    output = fusion([POSES[0], None, POSES[2]], warnings).fuse(batch(views))
    assert output.without_pose == ['cam1']
    assert output.hands[0].cameras == ('cam0', 'cam2')
    assert [kind for kind, _ in warnings] == ['fusion_pose']
    assert "'cam1'" in warnings[0][1]
    warnings.clear()
    output = fusion([None, None, None], warnings).fuse(batch(views))
    assert output.hands is None and len(warnings) == 3


def test_frames_outside_the_sync_tolerance_are_left_out_and_counted():
    rng = np.random.default_rng(19)
    truth = true_hand(rng, np.zeros(3))
    views = see(rng, [truth])
    step = fusion(sync_tolerance=0.005)
    output = step.fuse(batch(views, stamps=[2.000, 2.003, 2.040]))
    assert output.out_of_sync == ['cam2'] and step.frames_out_of_sync == 1
    assert output.stamp in (2.000, 2.003)
    assert output.hands[0].cameras == ('cam0', 'cam1')
    assert reference_stamp([1.0, 1.0, 1.5], 0.01) == 1.0
    assert reference_stamp([1.0, 1.2], 0.01) == 1.2  # no majority: the newest


def test_fused_ids_stay_with_a_moving_hand():
    rng = np.random.default_rng(23)
    step = fusion()
    ids = []
    for frame in range(3):
        truth = true_hand(rng, np.array([0.02 * frame, 0.0, 0.0]),
                          rotation=Rotation.from_euler('x', 10 * frame, degrees=True))
        output = step.fuse(batch(see(rng, [truth])))
        ids.append(output.hands[0].track_id)
    assert ids == ['f1', 'f1', 'f1']


def test_fused_hand_is_a_consistent_mano_hand():
    rng = np.random.default_rng(29)
    truth = true_hand(rng, np.zeros(3))
    views = see(rng, [truth])
    # With vertices: the fused mesh is the views' model-frame mesh placed like the joints.
    views = [[dataclasses.replace(h, vertices=h.keypoints_3d.copy()) for h in hands]
             for hands in views]
    hand = fusion().fuse(batch(views)).hands[0]
    rotation = Rotation.from_rotvec(hand.global_orient)
    placed = rotation.apply(truth.model) + hand.cam_t
    assert np.median(np.linalg.norm(placed - truth.joints, axis=1)) < 0.01
    np.testing.assert_allclose(np.median(np.linalg.norm(hand.vertices - hand.keypoints_3d,
                                                        axis=1)), 0.0, atol=0.006)


def test_the_step_runs_in_a_hand_stream_after_tracking():
    from wilor_ros.hand_stream import HandStream, TrackingOptions

    rng = np.random.default_rng(31)
    truth = true_hand(rng, np.zeros(3))
    views = see(rng, [truth])

    class Pipeline:
        def process_batch(self, images, camera_matrices, compute_vertices=True, depths=None,
                          sides=None):
            return [list(views[int(image)]) for image in images]

    step = fusion()
    stream = HandStream(Pipeline(), TrackingOptions(smoothing=None), [step])
    results = stream.process([CameraFrame(image=str(i), stamp=1.0, camera=f'cam{i}',
                                          camera_matrix=CAMERA_MATRIX) for i in range(3)])
    output = results[0].outputs['fusion']
    assert all(result.outputs['fusion'] is output for result in results)
    assert output.hands[0].cameras == ('cam0', 'cam1', 'cam2')
    assert error_mm(output.hands[0], truth) < 8.0
    # The per-camera hands are the trackers' (with their ids), untouched by the fusion.
    assert all(result.hands[0].track_id and not result.hands[0].cameras for result in results)


def test_a_failing_fusion_leaves_the_cameras_hands_alone():
    rng = np.random.default_rng(37)
    results = batch(see(rng, [true_hand(rng, np.zeros(3))]))
    warnings = []

    def broken_pose(camera, stamp):
        raise RuntimeError('TF buffer gone')

    MultiViewFusion('world', broken_pose, warn=lambda *w: warnings.append(w))(results)
    assert results[0].outputs['fusion'].hands is None
    assert warnings and warnings[0][0] == 'fusion_failed' and 'TF buffer gone' in warnings[0][1]
    assert all(len(result.hands) == 1 for result in results)


# The root joint (wrist) of a MANO hand at rest, model frame (about the fixture model's): MANO
# turns the hand about it, not about the origin.
MANO_ROOT = np.array([0.065, 0.0045, 0.004])


def about_mano_root(hand):
    """Return a synthetic view hand (wrist at the model origin) as MANO gives it: same joints."""
    # keypoints = R (X - J0) + J0 + cam_t with X = model + J0: R model + J0 + cam_t.
    return dataclasses.replace(hand, cam_t=(hand.cam_t - MANO_ROOT).astype(np.float32))


def test_model_frame_undoes_manos_turn_about_the_root():
    import torch
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from fixture_paths import MANO_PKL

    from wilor_ros.models.mano import mano_buffers_from_pickle, MANOLayer
    from wilor_ros.multiview_geometry import hand_in_frame, model_joints, model_vertices

    rng = np.random.default_rng(41)
    mano = MANOLayer(**mano_buffers_from_pickle(MANO_PKL))
    orient = Rotation.random(random_state=rng)
    pose_matrices = Rotation.from_rotvec(rng.normal(0, 0.3, (15, 3))).as_matrix()
    betas = torch.tensor(rng.normal(0, 1, (1, 10)), dtype=torch.float32)

    def forward(rotation):
        global_orient = torch.tensor(rotation.as_matrix(), dtype=torch.float32)[None, None]
        vertices, joints = mano.forward(global_orient, torch.tensor(
            pose_matrices, dtype=torch.float32)[None], betas)
        return vertices[0].double().numpy(), joints[0].double().numpy()

    vertices, joints = forward(orient)
    rest_vertices, rest_joints = forward(Rotation.identity())
    assert np.linalg.norm(rest_joints[0]) > 0.01  # a root off the origin: the case at stake
    scale, cam_t = 1.3, np.array([0.1, -0.05, 0.8])
    hand = dataclasses.replace(
        view_hand(rng, POSES[0], true_hand(rng, np.zeros(3)), 2.5),
        keypoints_3d=(scale * joints + cam_t).astype(np.float32),
        vertices=(scale * vertices + cam_t).astype(np.float32),
        global_orient=orient.as_rotvec().astype(np.float32), cam_t=cam_t.astype(np.float32),
        depth_scale=scale)
    np.testing.assert_allclose(model_joints(hand), rest_joints, atol=2e-5)
    np.testing.assert_allclose(model_vertices(hand), rest_vertices, atol=2e-5)
    # Moved into another frame, the hand is still s * MANO(global_orient) + cam_t.
    moved = hand_in_frame(hand, POSES[1])
    moved_vertices, _ = forward(Rotation.from_rotvec(moved.global_orient.astype(np.float64)))
    np.testing.assert_allclose(scale * moved_vertices + moved.cam_t, moved.vertices, atol=1e-4)


def test_fused_mesh_of_some_views_lies_on_the_fused_joints():
    rng = np.random.default_rng(43)
    truth = true_hand(rng, np.zeros(3))
    views = [[about_mano_root(h) for h in hands] for hands in see(rng, [truth])]
    # Only the first camera gives a mesh: it must be placed like the joints of all three.
    views[0] = [dataclasses.replace(h, vertices=h.keypoints_3d.copy()) for h in views[0]]
    hand = fusion().fuse(batch(views)).hands[0]
    assert hand.cameras == ('cam0', 'cam1', 'cam2')
    # One view's articulation (5 mm per joint) against the fused one: within 1 cm, where a
    # mesh turned about the wrong point is centimetres off.
    assert np.median(np.linalg.norm(hand.vertices - hand.keypoints_3d, axis=1)) < 0.01
    # And the fused hand is MANO turned about its root: R (X - J0) + J0 + cam_t, X = model + J0.
    placed = Rotation.from_rotvec(hand.global_orient).apply(truth.model) + MANO_ROOT + hand.cam_t
    assert np.median(np.linalg.norm(placed - truth.joints, axis=1)) < 0.01


def test_triangulation_covariance_is_that_of_the_returned_point_and_inliers():
    rng = np.random.default_rng(47)
    truth, projections, pixels = four_views_of_a_hand(rng)
    pixels[3] += rng.uniform(8.0, 16.0, (21, 2))  # one view near the inlier threshold
    confidences = rng.uniform(0.3, 1.0, (4, 21))
    # One Gauss-Newton step per refinement: the returned point is one step past the last
    # linearisation point.
    result = triangulate(projections, pixels, confidences, iterations=1)
    weights = np.maximum(confidences, 0.05)
    checked = 0
    for joint in np.flatnonzero(np.isfinite(result.points).all(axis=1)):
        point = result.points[joint]
        information = np.zeros((3, 3))
        for view in np.flatnonzero(result.inliers[:, joint]):
            # Numerical Jacobian of the view's projection at the returned point.
            jacobian = np.stack([(project(projections[view][None], (point + d)[None])
                                  - project(projections[view][None], (point - d)[None]))[0, 0]
                                 / 2e-6 for d in np.eye(3) * 1e-6], axis=1)
            information += weights[view, joint] ** 2 * jacobian.T @ jacobian
        product = result.covariance[joint] @ information
        # Covariance = sigma^2 information^-1: the product is sigma^2 times the identity.
        np.testing.assert_allclose(product / np.trace(product) * 3, np.eye(3), atol=1e-6)
        checked += 1
    assert checked >= 15


def test_a_view_a_merge_drops_is_counted_or_kept(monkeypatch):
    import wilor_ros.multiview as multiview

    rng = np.random.default_rng(53)
    truth = true_hand(rng, np.zeros(3))
    # A fourth camera square to the third, nearer: a depth error along the third camera's rays
    # shows in it.
    poses = POSES + [look_at(np.array([0.0, -0.5, 0.1]), np.zeros(3))]
    views = see(rng, [truth], poses)
    # The fourth view sees the hand 4 cm further along the third camera's rays: the pair
    # (cam2, cam3) agrees on that hand, near the pair (cam0, cam1)'s, but
    # in the merged group cam3 disagrees with the three others.
    rays = truth.joints - poses[2][:3, 3]
    moved = truth.joints + 0.04 * rays / np.linalg.norm(rays, axis=1, keepdims=True)
    shifted = dataclasses.replace(truth, joints=moved)
    views[3] = [dataclasses.replace(view_hand(np.random.default_rng(1), poses[3], shifted, 0.5),
                                    keypoint_confidence=np.ones(21, np.float32))]
    # Complete linkage splitting the four views into two pairs (see _merge_duplicates).
    monkeypatch.setattr(multiview, 'associate', lambda hands, config: [hands[:2], hands[2:]])
    monkeypatch.setattr(multiview, 'MERGE_DISTANCE', 0.08)  # the pairs' hands: 4 cm apart
    output = fusion(poses, inlier_px=8.0).fuse(batch(views))
    fused = [hand for hand in output.hands if len(hand.cameras) > 1]
    assert len(fused) == 1 and fused[0].cameras == ('cam0', 'cam1', 'cam2')
    # The dropped view is the fused hand seen again: counted as rejected, not a second hand.
    assert len(output.hands) == 1 and output.rejected_views == 1
    # Far from any fused hand (another physical hand), the view it drops stays a hand.
    monkeypatch.setattr(multiview, 'DUPLICATE_SHARE', 0.0)
    monkeypatch.setattr(multiview, 'DUPLICATE_MIN_PX', 1.0)
    output = fusion(poses, inlier_px=8.0).fuse(batch(views))
    cameras = sorted(hand.cameras for hand in output.hands)
    assert cameras == [('cam0', 'cam1', 'cam2'), ('cam3',)]
    assert output.rejected_views == 0
