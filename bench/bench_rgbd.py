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
Benchmark of the RGB-D fusion (:mod:`wilor_ros.depth_fusion`) on synthetic scenes with truth.

Scenes (``bench/rgbd_scenes.py``): a MANO hand from the fixture checkpoint's MANO model is the
monocular estimate; the true hand is it scaled about the camera centre by 0.6-1.4, root at
0.3-1.5 m; the aligned depth image is rendered from the true mesh with RealSense-like noise
growing with z^2, 10 % holes, flying pixels, a background plane and a partial occluder in front.

Printed: median and p95 of the translation (cam_t) error and of the 21 joints' 3-D error,
monocular vs fused (with and without the simulated detector keypoint confidences), for all
hands and for hands within 1 m, and the fit time. The last line is for hands within 1 m:
``rgbd: mono median N mm, fused median N mm, p95 N mm`` (21-joint 3-D error).
``--pose-error 0.1`` also gives the monocular hand a wrong articulation (no scale is exact then).

Run: ``python bench/bench_rgbd.py [--scenes 200] [--seed 0] [--pose-error 0.1]``
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from rgbd_scenes import INTRINSICS, load_mano, make_scene  # noqa: E402

from wilor_ros.depth_fusion import depth_to_metres, fit_depth_scale  # noqa: E402, I100

REPO = pathlib.Path(__file__).resolve().parent.parent
MANO_PKL = REPO / 'test' / 'fixtures' / 'a' / 'wilor' / 'MANO_RIGHT.pkl'


def _stats(values):
    values = np.asarray(values) * 1000.0
    return f'median {np.median(values):6.1f} mm, p95 {np.percentile(values, 95):6.1f} mm'


def main():
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--scenes', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--pose-error', type=float, default=0.0,
                        help='articulation error of the monocular hand (rad per finger axis); '
                             '0: the true hand is exactly the scaled monocular one')
    args = parser.parse_args()

    mano = load_mano(MANO_PKL)
    rng = np.random.default_rng(args.seed)
    rows = []
    seconds = []
    for _ in range(args.scenes):
        scene = make_scene(mano, rng, pose_error=args.pose_error)
        depth = depth_to_metres(scene.depth)
        errors = {'depth_m': scene.true_cam_t[2]}
        errors['mono_t'] = np.linalg.norm(scene.mono_cam_t - scene.true_cam_t)
        errors['mono_j'] = np.linalg.norm(scene.mono_joints - scene.true_joints, axis=1)
        for name, confidence in (('fused', scene.keypoint_confidence), ('noconf', None)):
            start = time.perf_counter()
            fit = fit_depth_scale(scene.mono_vertices, scene.faces, INTRINSICS, depth,
                                  scene.mono_joints, confidence)
            seconds.append(time.perf_counter() - start)
            errors[f'{name}_ok'] = fit.accepted
            errors[f'{name}_t'] = np.linalg.norm(fit.scale * scene.mono_cam_t
                                                 - scene.true_cam_t)
            errors[f'{name}_j'] = np.linalg.norm(fit.scale * scene.mono_joints
                                                 - scene.true_joints, axis=1)
        rows.append(errors)

    print(f'{args.scenes} scenes, 640x480, fx 615, true/mono scale 0.6-1.4, roots 0.3-1.5 m, '
          f'articulation error {args.pose_error} rad; fit time median '
          f'{np.median(seconds) * 1000:.1f} ms per hand (CPU)')
    near = [r for r in rows if r['depth_m'] <= 1.0]
    for label, subset in (('all hands', rows), (f'within 1 m ({len(near)})', near)):
        print(f'-- {label}')
        for name, title in (('mono', 'monocular'), ('fused', 'fused'),
                            ('noconf', 'fused, no keypoint confidence')):
            if name != 'mono':
                accepted = np.mean([r[f'{name}_ok'] for r in subset])
                title = f'{title} (accepted {accepted:.0%})'
            print(f'  {title}')
            print(f'    translation   {_stats([r[f"{name}_t"] for r in subset])}')
            print(f'    21 joints 3-D {_stats(np.concatenate([r[f"{name}_j"] for r in subset]))}')
    mono = np.concatenate([r['mono_j'] for r in near]) * 1000.0
    fused = np.concatenate([r['fused_j'] for r in near]) * 1000.0
    print(f'rgbd: mono median {np.median(mono):.0f} mm, fused median {np.median(fused):.1f} mm, '
          f'p95 {np.percentile(fused, 95):.1f} mm')


if __name__ == '__main__':
    main()
