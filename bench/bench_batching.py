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
Several cameras in one batch: frames per second for 1, 2, 4 and 8 cameras, in one run.

For each camera count N, ``process_batch`` of N frames (2 hands each: random detector weights
with ``conf=0`` keep exactly ``max_hands`` boxes) is timed against the same N frames run one
by one (the node before batching), interleaved round by round so that a noisy machine slows
both alike. Printed per N: frames/s batched and one by one, and the batched rate as a ratio
to one camera. Models: ``--size fixture`` (the test fixtures, tiny), ``small`` (gpu_check's
small random models) or ``full`` (ViT-H width 1280 depth 32 and YOLOv8m-pose, random weights:
minutes per round on a CPU). Its last line reads ``batching: 8 cameras X frames/s = R x one
camera (one by one: Y frames/s)``.

Run: ``python bench/bench_batching.py [--size fixture|small|full] [--device cpu|cuda]
[--rounds 3]``.
"""

import argparse
import pathlib
import statistics
import time

# bench/ is the script's directory, so the sibling benchmarks' helpers are importable.
from bench_reconstructor import random_wilor
from gpu_check import random_detector, SIZES, sync, test_image
import numpy as np
import torch

from wilor_ros.pipeline import HandPipeline

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / 'test' / 'fixtures' / 'a'
CAMERAS = (1, 2, 4, 8)
HANDS_PER_FRAME = 2


def build_pipeline(size, device):
    """Build a pipeline of the requested size on ``device``, keeping 2 hands per frame."""
    if size == 'fixture':
        from wilor_ros.detector import load_detector
        from wilor_ros.reconstructor import load_reconstructor

        detector = load_detector(FIXTURES / 'detector' / 'detector.pt', device)
        reconstructor = load_reconstructor(FIXTURES / 'wilor' / 'checkpoint.ckpt', device)
        image_hw = (480, 640)
    else:
        spec = SIZES[size]
        detector = random_detector(spec['detector'], device, torch.float32, spec['imgsz'])
        reconstructor = random_wilor(spec['width'], spec['depth'],
                                     FIXTURES / 'wilor' / 'checkpoint.ckpt').to(device)
        image_hw = spec['image']
    return HandPipeline(detector, reconstructor, conf=0.0, max_hands=HANDS_PER_FRAME), image_hw


def seconds(function, device):
    """Return the wall-clock seconds of one call, the device's queue included."""
    sync(device)
    start = time.perf_counter()
    function()
    sync(device)
    return time.perf_counter() - start


def main(argv=None):
    """Time batched against one-by-one processing for each camera count; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', choices=('fixture', 'small', 'full'), default='fixture')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    pipe, image_hw = build_pipeline(args.size, device)
    frames = [np.roll(test_image(*image_hw), 8 * index, axis=1) for index in range(max(CAMERAS))]
    pipe.process_batch(frames[:2])  # warm-up: allocator, kernels, caches
    batched = {count: [] for count in CAMERAS}
    single = {count: [] for count in CAMERAS}
    for _ in range(args.rounds):
        for count in CAMERAS:
            batch = frames[:count]
            batched[count].append(seconds(lambda: pipe.process_batch(batch), device))
            single[count].append(seconds(lambda: [pipe(frame) for frame in batch], device))
    rate = {count: count / statistics.median(batched[count]) for count in CAMERAS}
    one_by_one = {count: count / statistics.median(single[count]) for count in CAMERAS}
    print(f'{args.size} models on {device}, {HANDS_PER_FRAME} hands per frame, '
          f'{image_hw[1]}x{image_hw[0]}, median of {args.rounds} interleaved rounds')
    print('cameras  batched frames/s  ratio to 1 camera  one by one frames/s  batched/one by one')
    for count in CAMERAS:
        print(f'{count:7d}  {rate[count]:16.2f}  {rate[count] / rate[1]:17.2f}  '
              f'{one_by_one[count]:19.2f}  {rate[count] / one_by_one[count]:18.2f}')
    last = CAMERAS[-1]
    print(f'batching: {last} cameras {rate[last]:.2f} frames/s = {rate[last] / rate[1]:.2f} x '
          f'one camera (one by one: {one_by_one[last]:.2f} frames/s)')


if __name__ == '__main__':
    main()
