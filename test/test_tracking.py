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

"""Hand tracking: stable ids through crossings, misses, irregular and backwards stamps."""

import dataclasses

import numpy as np
import pytest

from wilor_ros.hand import HandResult
from wilor_ros.smoothing import SmoothingConfig
from wilor_ros.tracking import box_iou, HandTracker

FOCAL = 600.0
CENTRE = np.array([320.0, 240.0])
# A fixed hand shape around the wrist (joint 0), about 18 cm across, in metres.
SHAPE = np.random.default_rng(42).normal(0.0, 0.04, (21, 3)) * [1.0, 1.0, 0.3]
SHAPE[0] = 0.0


def make_hand(wrist, is_right, rng=None):
    """Make a hand whose joints sit around ``wrist``, boxed around their projection."""
    keypoints_3d = SHAPE + np.asarray(wrist, dtype=np.float64)
    if rng is not None:
        keypoints_3d = keypoints_3d + rng.normal(0.0, 0.005, keypoints_3d.shape)
    keypoints_2d = FOCAL * keypoints_3d[:, :2] / keypoints_3d[:, 2:] + CENTRE
    box = np.concatenate([keypoints_2d.min(0) - 10.0, keypoints_2d.max(0) + 10.0])
    return HandResult(
        is_right=is_right, score=0.9, box=box.astype(np.float32),
        keypoints_3d=keypoints_3d.astype(np.float32),
        keypoints_2d=keypoints_2d.astype(np.float32),
        keypoints_2d_network=keypoints_2d.astype(np.float32),
        global_orient=np.zeros(3, np.float32), hand_pose=np.zeros(45, np.float32),
        betas=np.zeros(10, np.float32), cam_t=np.asarray(wrist, dtype=np.float32),
        focal_length=FOCAL, principal_point=CENTRE.astype(np.float32),
        focal_from_camera_info=True)


def ids_by_side(results):
    return {('right' if h.is_right else 'left'): h.track_id for h in results}


@pytest.mark.parametrize('smoothing', [None, SmoothingConfig()])
@pytest.mark.parametrize('motion', ['pass', 'bounce'])
def test_left_and_right_hands_crossing_do_not_swap(smoothing, motion):
    rng = np.random.default_rng(0)
    tracker = HandTracker(smoothing=smoothing)
    seen = []
    for frame in range(40):
        # The hands approach at 0.6 m/s each and meet at frame 20; then they either pass each
        # other or turn back, which motion alone would read as passing (a swap).
        offset = 0.4 - min(frame, 40 - frame if motion == 'bounce' else frame) / 30.0 * 0.6
        hands = [make_hand([offset, 0.0, 0.6], True, rng),
                 make_hand([-offset, 0.01, 0.6], False, rng)]
        if frame % 2:
            hands.reverse()
        seen.append(ids_by_side(tracker.update(hands, frame / 30.0)))
    assert all(ids == seen[0] for ids in seen)
    assert seen[0]['left'] != seen[0]['right']


def test_same_side_hands_far_apart_keep_separate_ids():
    rng = np.random.default_rng(1)
    tracker = HandTracker()
    history = {}
    for frame in range(30):
        hands = [make_hand([-0.25 + 0.001 * frame, 0.0, 0.7], True, rng),
                 make_hand([0.25, -0.001 * frame, 0.7], True, rng)]
        order = rng.permutation(2)
        results = tracker.update([hands[i] for i in order], frame / 30.0)
        for position, result in zip(order, results):
            history.setdefault(position, set()).add(result.track_id)
    assert len(history[0]) == 1 and len(history[1]) == 1
    assert history[0] != history[1]


@pytest.mark.parametrize('gap', [1, 2, 3, 4])
def test_missed_frames_within_max_missed_keep_the_id_beyond_get_a_new_one(gap):
    max_missed = 3
    tracker = HandTracker(max_missed=max_missed)
    ids = []
    for frame in range(12):
        # Moving at 0.6 m/s so that the hand really is elsewhere when it comes back.
        hand = make_hand([-0.2 + 0.02 * frame, 0.0, 0.6], True)
        present = not 5 <= frame < 5 + gap
        results = tracker.update([hand] if present else [], frame / 30.0)
        if present:
            ids.append(results[0].track_id)
        else:
            assert results == []
    if gap <= max_missed:
        assert set(ids) == {ids[0]}
    else:
        assert ids[:5] == [ids[0]] * 5
        assert set(ids[5:]) == {ids[5]} and ids[5] != ids[0]


def test_fast_hand_missed_for_two_frames_keeps_its_id():
    # 2 m/s: the hand is 0.2 m (about 200 px) away when it is seen again, outside both gates
    # unless the track is extrapolated with its velocity.
    tracker = HandTracker()
    ids = []
    for frame in range(10):
        hand = make_hand([-0.4 + 2.0 * frame / 30.0, 0.0, 0.6], True)
        results = tracker.update([] if frame in (5, 6) else [hand], frame / 30.0)
        ids.extend(r.track_id for r in results)
    assert len(ids) == 8 and set(ids) == {ids[0]}


def detect_resolve_update(tracker, hands, labels, stamp):
    """One frame as the node runs it: detector labels -> resolve_sides -> crop -> update."""
    boxes = np.stack([hand.box for hand in hands])
    sides = tracker.resolve_sides(boxes, np.full(len(hands), 0.9), labels, stamp)
    # The crop is mirrored by the resolved side, so the reconstruction has that side.
    cropped = [dataclasses.replace(hand, is_right=bool(side)) for hand, side in zip(hands, sides)]
    return tracker.update(cropped, stamp)


@pytest.mark.parametrize('flip_frames', [1, 2, 5])
def test_label_flips_keep_the_track_and_its_side(flip_frames):
    rng = np.random.default_rng(flip_frames)
    tracker = HandTracker(smoothing=SmoothingConfig())
    results = []
    for frame in range(30):
        hand = make_hand([-0.1 + 0.005 * frame, 0.0, 0.6], True, rng)
        label = not 10 <= frame < 10 + flip_frames
        results.append(detect_resolve_update(tracker, [hand], [label], frame / 30.0)[0])
    assert {r.track_id for r in results} == {'1'}
    assert all(r.is_right for r in results)
    assert tracker.filter_resets == 0


@pytest.mark.parametrize('flip_frames', [1, 2, 5])
def test_update_alone_continues_the_track_through_label_flips(flip_frames):
    # Without resolve_sides the side is no hard gate either: same id, and the track's vote
    # keeps its side even though the flipped hands themselves say left.
    tracker = HandTracker()
    ids = []
    for frame in range(20):
        label = not 5 <= frame < 5 + flip_frames
        (hand,) = tracker.update([make_hand([0.0, 0.0, 0.6], label)], frame / 30.0)
        ids.append(hand.track_id)
    assert set(ids) == {'1'} and tracker.tracks[0].is_right


def test_lasting_label_change_switches_the_side_after_the_hysteresis():
    tracker = HandTracker(side_hysteresis=5)
    sides = []
    for frame in range(30):
        hand = make_hand([0.0, 0.0, 0.6], True)
        (result,) = detect_resolve_update(tracker, [hand], [frame < 10], frame / 30.0)
        sides.append(result.is_right)
        assert result.track_id == '1'
    # Votes saturate at +5 after 10 right labels; the sixth left label crosses zero.
    assert sides == [True] * 15 + [False] * 15


def test_crossing_hands_with_flipped_labels_keep_ids_and_sides():
    rng = np.random.default_rng(3)
    tracker = HandTracker(smoothing=SmoothingConfig())
    seen = []
    for frame in range(40):
        offset = 0.4 - frame / 30.0 * 0.6
        hands = [make_hand([offset, 0.0, 0.6], True, rng),
                 make_hand([-offset, 0.01, 0.6], False, rng)]
        labels = [True, False]
        if 18 <= frame < 21:
            labels = [False, False]     # the right hand is called left while they overlap
        if frame in (25, 26):
            labels = [True, True]       # and later the left one is called right
        results = detect_resolve_update(tracker, hands, labels, frame / 30.0)
        seen.append([(r.track_id, r.is_right) for r in results])
    assert all(pairs == seen[0] for pairs in seen)
    assert [side for _, side in seen[0]] == [True, False]


def test_impossible_jump_restarts_the_filter_instead_of_smoothing_through():
    tracker = HandTracker(smoothing=SmoothingConfig(), max_speed=5.0)
    for frame in range(10):
        tracker.update([make_hand([0.0, 0.0, 0.6], True)], frame / 30.0)
    # 0.1 m in one frame is 3 m/s: possible, smoothed.
    moved = make_hand([0.1, 0.0, 0.6], True)
    (smoothed,) = tracker.update([moved], 10 / 30.0)
    assert tracker.filter_resets == 0
    assert abs(smoothed.keypoints_3d[0, 0] - 0.1) > 0.005
    # 0.3 m more in one frame is 9 m/s: the filter restarts from the new hand.
    jumped = make_hand([0.1, 0.0, 0.9], True)
    (result,) = tracker.update([jumped], 11 / 30.0)
    assert tracker.filter_resets == 1 and result.track_id == smoothed.track_id
    np.testing.assert_allclose(result.keypoints_3d, jumped.keypoints_3d, atol=1e-6)


def test_distant_hand_of_same_side_is_not_matched():
    tracker = HandTracker(max_wrist_distance=0.15)
    (first,) = tracker.update([make_hand([-0.3, 0.0, 0.6], True)], 0.0)
    (second,) = tracker.update([make_hand([0.3, 0.0, 0.6], True)], 1 / 30)
    assert second.track_id != first.track_id


def test_irregular_stamps_with_a_dropped_frame_keep_one_id():
    rng = np.random.default_rng(2)
    stamps = np.cumsum(1.0 / rng.uniform(25.0, 40.0, 90))
    stamps = np.delete(stamps, 40)
    tracker = HandTracker(smoothing=SmoothingConfig())
    ids = set()
    for stamp in stamps:
        x = -0.3 + 0.6 * (0.5 - 0.5 * np.cos(np.pi * min(stamp / 2.5, 1.0)))
        (result,) = tracker.update([make_hand([x, 0.0, 0.6], True, rng)], stamp)
        ids.add(result.track_id)
        assert np.all(np.isfinite(result.keypoints_3d))
    assert len(ids) == 1


def test_backwards_stamp_resets_and_duplicate_stamp_is_harmless():
    tracker = HandTracker(smoothing=SmoothingConfig())
    (a,) = tracker.update([make_hand([0.0, 0.0, 0.6], True)], 10.0)
    (b,) = tracker.update([make_hand([0.01, 0.0, 0.6], True)], 10.0)
    assert b.track_id == a.track_id and not tracker.time_jumped_back
    (c,) = tracker.update([make_hand([0.02, 0.0, 0.6], True)], 10.05)
    assert c.track_id == a.track_id
    (d,) = tracker.update([make_hand([0.02, 0.0, 0.6], True)], 3.0)
    assert tracker.time_jumped_back
    assert d.track_id not in (a.track_id, '')
    (e,) = tracker.update([make_hand([0.02, 0.0, 0.6], True)], 3.03)
    assert not tracker.time_jumped_back and e.track_id == d.track_id


def test_reset_never_reuses_ids_and_outputs_are_copies():
    tracker = HandTracker()
    hand = make_hand([0.0, 0.0, 0.6], True)
    (first,) = tracker.update([hand], 0.0)
    assert hand.track_id == ''
    # Without smoothing the values pass through unchanged.
    np.testing.assert_array_equal(first.keypoints_3d, hand.keypoints_3d)
    tracker.reset()
    (second,) = tracker.update([hand], 0.1)
    assert second.track_id != first.track_id


def test_smoothing_changes_values_but_not_order():
    rng = np.random.default_rng(3)
    tracker = HandTracker(smoothing=SmoothingConfig())
    for frame in range(10):
        hands = [make_hand([-0.2, 0.0, 0.6], True, rng), make_hand([0.2, 0.0, 0.6], False, rng)]
        results = tracker.update(hands, frame / 30.0)
        assert [r.is_right for r in results] == [True, False]
    assert not np.allclose(results[0].keypoints_3d, hands[0].keypoints_3d, atol=1e-4)
    assert np.abs(results[0].keypoints_3d - hands[0].keypoints_3d).max() < 0.03


def test_box_iou_matches_area_arithmetic():
    boxes = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0]])
    iou = box_iou(boxes, boxes)
    # Overlap of the first two is the unit square: 1 / (4 + 4 - 1).
    np.testing.assert_allclose(iou[0, 1], 1.0 / 7.0)
    np.testing.assert_allclose(np.diag(iou), 1.0)
    assert iou[0, 2] == 0.0 and iou[1, 2] == 0.0
    np.testing.assert_allclose(iou, iou.T)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match='max_missed'):
        HandTracker(max_missed=-1)
    with pytest.raises(ValueError, match='iou_threshold'):
        HandTracker(iou_threshold=1.5)
