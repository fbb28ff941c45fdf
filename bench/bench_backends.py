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
CPU fp32 frames per second of the torch and onnxruntime backends, interleaved in one run.

Both pipelines come from :func:`wilor_ros.loading.load_pipeline` on the same weights and run
the same image frame by frame, taking turns frame by frame (the machine's load then weighs on
both alike); prints each one's median ms per frame and frames/s, the ratio, and how far the
onnxruntime results are from torch (boxes px, vertices m).

Usage: ``python bench/bench_backends.py [--width 1280 --depth 2] [--frames 20]
[--threads 1] [--cache DIR]``. Default: the parity fixtures (tiny random networks); with
``--width``/``--depth`` a random WiLoR of that size is written to a temporary checkpoint
(bench_loading.write_checkpoint). The first run exports both networks into the cache
(default: a temporary folder), which is not timed.
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from wilor_ros.loading import load_pipeline

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / 'test' / 'fixtures' / 'a'


def main():
    """Run the interleaved comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--width', type=int, default=None, help='random model ViT width')
    parser.add_argument('--depth', type=int, default=2, help='random model ViT depth')
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--cache', default=None, help='engine cache folder ($WILOR_ROS_CACHE)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = pathlib.Path(tempfile.mkdtemp(prefix='bench_backends_'))
    os.environ['WILOR_ROS_CACHE'] = args.cache or str(work)
    detector = FIXTURES / 'detector' / 'detector.pt'
    reconstructor = FIXTURES / 'wilor' / 'checkpoint.ckpt'
    label = 'parity fixtures (ViT width 160, depth 2)'
    if args.width:
        sys.path.insert(0, str(REPO / 'bench'))
        from bench_loading import write_checkpoint
        reconstructor = work / f'random_{args.width}_{args.depth}.ckpt'
        write_checkpoint(reconstructor, args.width, args.depth)
        label = f'random WiLoR, ViT width {args.width}, depth {args.depth}'
    image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    pipes = {}
    for backend in ('torch', 'onnxruntime'):
        pipes[backend] = load_pipeline(detector, reconstructor, device='cpu', precision='fp32',
                                       backend=backend, warm_up=True,
                                       warm_up_image_hw=image.shape[:2])
    results = {backend: pipe(image) for backend, pipe in pipes.items()}
    times = {backend: [] for backend in pipes}
    for _ in range(args.frames):
        for backend, pipe in pipes.items():
            start = time.perf_counter()
            pipe(image)
            times[backend].append(time.perf_counter() - start)
    hands = results['torch']
    same = len(hands) == len(results['onnxruntime'])
    print(f'model: {label}; 640x480 frame with {len(hands)} hands; {args.threads} thread(s); '
          f'{args.frames} frames each, interleaved; torch {torch.__version__}')
    for backend, values in times.items():
        median = statistics.median(values)
        print(f'{backend:12s} {median * 1e3:8.1f} ms/frame  {1 / median:6.2f} frames/s')
    ratio = statistics.median(times['torch']) / statistics.median(times['onnxruntime'])
    print(f'onnxruntime / torch frames/s: x{ratio:.2f}')
    if same and hands:
        boxes = max(np.abs(a.box - b.box).max() for a, b in zip(hands, results['onnxruntime']))
        vertices = max(np.abs(a.vertices - b.vertices).max()
                       for a, b in zip(hands, results['onnxruntime']))
        print(f'deviation onnxruntime vs torch: boxes {boxes:.2g} px, vertices {vertices:.2g} m')
    else:
        print(f'hands: torch {len(hands)}, onnxruntime {len(results["onnxruntime"])}')


if __name__ == '__main__':
    main()
