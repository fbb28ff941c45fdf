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
Multi-view fusion on synthetic scenes with known truth: fused 21-joint error vs monocular.

Scenes (bench/multiview_scenes.py): one or two people, one or two hands each (a skeleton with
realistic bone lengths: the fixture MANO has random weights), 2-4 cameras 0.3-1.0 m apart,
hands 0.4-1.5 m away, 2-3 px 2D noise, monocular depth 10-40 % off. With ``--outlier-view``
one hand in one view of every scene is a wrong detection (its 2D 40-150 px off) or has the
wrong side (mirrored joints, side flipped).

For every camera count it prints the error of the joints of the hands fused from two or more
views (``fused``), of every output hand matched to a true one (``all``, single-view
fallbacks included), and of the cameras' own monocular hands (``monocular``) in the same
scenes; hands left to one view, views rejected, and output hands matching no true hand
(``phantom``). The last line: ``multiview: fused median X mm, p95 Y mm, monocular median Z mm``
(over every camera count run).

Run: ``python bench/bench_multiview.py [--seed 0] [--cameras 2 3 4] [--scenes 200]
[--outlier-view]``
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from multiview_scenes import (CAMERA_MATRIX, camera_rig, make_hands,  # noqa: E402, I100
                              view_hand, wrong_detection, wrong_side)

from wilor_ros.hand_stream import CameraFrame, CameraHands  # noqa: E402, I100
from wilor_ros.multiview import MultiViewFusion  # noqa: E402
from wilor_ros.multiview_geometry import transform_points  # noqa: E402


def make_batch(rng, count, outlier):
    """Return (poses, truths, CameraHands per camera, outlier (view, truth) or None)."""
    poses = camera_rig(rng, count)
    truths = make_hands(rng, poses, people=int(rng.integers(1, 3)))
    noise = rng.uniform(2.0, 3.0)
    per_view = [[] for _ in poses]
    for t, truth in enumerate(truths):
        for v, pose in enumerate(poses):
            hand = view_hand(rng, pose, truth, noise)
            if hand is not None:
                per_view[v].append((t, hand))
    bad = None
    if outlier:
        choices = [(v, k) for v in range(count) for k in range(len(per_view[v]))]
        if choices:
            v, k = choices[int(rng.integers(len(choices)))]
            t = per_view[v][k][0]
            make = wrong_side if rng.random() < 0.5 else wrong_detection
            hand = make(rng, poses[v], truths[t], noise)
            if hand is not None:
                per_view[v][k] = (t, hand)
                bad = (v, t)
    results = []
    for v, pose in enumerate(poses):
        hands = [hand for _, hand in per_view[v]]
        frame = CameraFrame(image=None, stamp=1.0, camera=f'cam{v}',
                            camera_matrix=CAMERA_MATRIX)
        results.append(CameraHands(f'cam{v}', 1.0, frame, hands, hands))
    return poses, truths, per_view, results, bad


def _match(hand, truths, poses, names):
    """Return the index of the true hand an output hand is, or None (a phantom)."""
    best, best_error = None, np.inf
    for t, truth in enumerate(truths):
        if len(hand.cameras) > 1:
            error = np.linalg.norm(hand.keypoints_3d - truth.joints, axis=1).mean()
            limit = 0.05
        else:  # One camera: its depth is off, its direction is not; compare directions.
            origin = poses[names.index(hand.cameras[0])][:3, 3]
            a = hand.keypoints_3d[0] - origin
            b = truth.joints[0] - origin
            error = np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
            limit = np.radians(2.0)
        if truth.is_right == hand.is_right and error < limit and error < best_error:
            best, best_error = t, error
    return best


def run(count, scenes, seed, outlier):
    """Run ``scenes`` scenes with ``count`` cameras; return the per-joint error arrays."""
    rng = np.random.default_rng([seed, count])
    fused, everything, monocular = [], [], []
    counts = dict.fromkeys(('truths', 'fused', 'single', 'rejected', 'phantom', 'missed',
                            'covered', 'joints'), 0)
    started = time.perf_counter()
    for _ in range(scenes):
        poses, truths, per_view, results, bad = make_batch(rng, count, outlier)
        names = [r.camera for r in results]
        fusion = MultiViewFusion('world', lambda camera, stamp: poses[names.index(camera)],
                                 sync_tolerance=0.01)
        output = fusion.fuse(results)
        counts['truths'] += len(truths)
        counts['rejected'] += output.rejected_views
        for v, entries in enumerate(per_view):
            for t, hand in entries:
                if bad != (v, t):
                    monocular.append(np.linalg.norm(transform_points(poses[v], hand.keypoints_3d)
                                                    - truths[t].joints, axis=1))
        found = set()
        for hand in output.hands:
            t = _match(hand, truths, poses, names)
            if t is None:
                counts['phantom'] += 1
                continue
            found.add(t)
            errors = np.linalg.norm(hand.keypoints_3d - truths[t].joints, axis=1)
            everything.append(errors)
            if len(hand.cameras) > 1:
                counts['fused'] += 1
                fused.append(errors)
                counts['covered'] += int(np.sum(errors <= 2 * hand.keypoint_uncertainty))
                counts['joints'] += errors.size
            else:
                counts['single'] += 1
        counts['missed'] += len(truths) - len(found)
    elapsed = time.perf_counter() - started
    return [np.concatenate(x) if x else np.zeros(0) for x in (fused, everything, monocular)], \
        counts, elapsed


def _stats(values):
    values = np.asarray(values) * 1000.0
    if values.size == 0:
        return 'no joints'
    return f'median {np.median(values):6.1f} mm, p95 {np.percentile(values, 95):6.1f} mm'


def main():
    """Run the bench (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cameras', type=int, nargs='+', default=[2, 3, 4])
    parser.add_argument('--scenes', type=int, default=200)
    parser.add_argument('--outlier-view', action='store_true',
                        help='one hand in one view per scene: wrong detection or wrong side')
    args = parser.parse_args()
    if any(not 2 <= count <= 4 for count in args.cameras):
        parser.error('--cameras: 2, 3 or 4')
    print(f'seed {args.seed}, {args.scenes} scenes per camera count, outlier view: '
          f'{"yes" if args.outlier_view else "no"}')
    all_fused, all_monocular = [], []
    for count in args.cameras:
        (fused, everything, monocular), counts, elapsed = run(count, args.scenes, args.seed,
                                                              args.outlier_view)
        all_fused.append(fused)
        all_monocular.append(monocular)
        coverage = counts['covered'] / max(counts['joints'], 1)
        print(f'cameras={count}: fused {_stats(fused)} ({counts["fused"]} hands); '
              f'all {_stats(everything)}; monocular {_stats(monocular)}')
        print(f'  {counts["truths"]} true hands: {counts["fused"]} fused, {counts["single"]} '
              f'single-view, {counts["missed"]} missed; {counts["rejected"]} views rejected, '
              f'{counts["phantom"]} phantom hands; error <= 2x stated uncertainty for '
              f'{100 * coverage:.0f} % of fused joints; {1000 * elapsed / args.scenes:.1f} ms '
              'per scene')
    fused = np.concatenate(all_fused) * 1000
    monocular = np.concatenate(all_monocular) * 1000
    print(f'multiview: fused median {np.median(fused):.1f} mm, p95 '
          f'{np.percentile(fused, 95):.1f} mm, monocular median {np.median(monocular):.1f} mm')


if __name__ == '__main__':
    main()
