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
Per-stage timing of the WiLoR hand pipeline for 1, 2 and 4 hands per frame.

Stages: detector (letterbox + network + NMS), crops, ViT, RefineNet + MANO, post-processing
(camera, axis-angle, transfer to HandResult). Runs on the CPU and, when present, on CUDA.

Usage: ``python bench/bench_pipeline.py [--detector detector.pt] [--reconstructor
wilor_final.ckpt] [--image img.png] [--devices cpu,cuda] [--hands 1,2,4] [--runs 20]
[--precision fp16]``. Defaults to the parity fixture weights and image (tiny random
networks: the crop / post-processing overheads are then large relative to the networks;
pass the real weights for real ratios). Prints median milliseconds per stage and each
stage's share of the total.
"""

import argparse
import pathlib
import statistics
import time

import cv2
import numpy as np
import torch

from wilor_ros.crops import crop_geometry, crop_hands, frame_to_tensor
from wilor_ros.loading import load_pipeline
from wilor_ros.postprocess import build_hand_results

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'a'
STAGES = ('detector', 'crops', 'vit', 'refine+mano', 'post')


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _median_ms(function, device, runs, warmup):
    result = None
    for _ in range(warmup):
        result = function()
    times = []
    for _ in range(runs):
        _sync(device)
        start = time.perf_counter()
        result = function()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return result, statistics.median(times)


def hand_boxes(width, height, count):
    """Return ``count`` hand-sized boxes spread over a W x H image (no blur path, both sides)."""
    side = 0.18 * min(height, width)
    boxes, is_right = [], []
    for n in range(count):
        cx = width * (n + 1) / (count + 1)
        cy = height * (0.4 + 0.2 * (n % 2))
        boxes.append([cx - side / 2, cy - side * 0.6, cx + side / 2, cy + side * 0.6])
        is_right.append(n % 2 == 0)
    return np.asarray(boxes, dtype=np.float32), np.asarray(is_right)


def bench_device(args, device, image):
    """Time every stage on one device; return {hands: {stage: ms}}."""
    pipe = load_pipeline(args.detector, args.reconstructor, device=device,
                         precision=args.precision, conf=args.conf)
    intrinsics = pipe.camera_intrinsics(None, image.shape[1], image.shape[0])
    results = {}
    for count in args.hands:
        boxes, is_right = hand_boxes(image.shape[1], image.shape[0], count)
        center, size = crop_geometry(boxes)
        frame = frame_to_tensor(image, device)
        times = {}
        _, times['detector'] = _median_ms(lambda: pipe.detect(frame), device, args.runs,
                                          args.warmup)
        crops, times['crops'] = _median_ms(
            lambda: crop_hands(frame, boxes, is_right, device=device)['img'], device,
            args.runs, args.warmup)
        with torch.inference_mode():
            vit, times['vit'] = _median_ms(lambda: pipe.reconstructor.run_backbone(crops), device,
                                           args.runs, args.warmup)
            heads, times['refine+mano'] = _median_ms(lambda: pipe.reconstructor.run_heads(vit),
                                                     device, args.runs, args.warmup)
        _, times['post'] = _median_ms(
            lambda: build_hand_results(heads, center, size, boxes, np.ones(count), is_right,
                                       intrinsics), device, args.runs, args.warmup)
        _, times['end-to-end'] = _median_ms(
            lambda: pipe.reconstruct(frame, boxes, is_right), device, args.runs, args.warmup)
        results[count] = times
    return results


def print_table(device, results):
    """Print per-stage milliseconds and shares of the stage total."""
    print(f'\n{device}: median ms per frame (share of the stage sum)')
    print(f'{"hands":>5} ' + ' '.join(f'{s:>17}' for s in STAGES)
          + f' {"sum":>9} {"reconstruct":>12}')
    for count, times in results.items():
        total = sum(times[s] for s in STAGES)
        cells = ' '.join(f'{times[s]:9.2f} ({100 * times[s] / total:4.1f}%)' for s in STAGES)
        print(f'{count:>5} {cells} {total:9.2f} {times["end-to-end"]:12.2f}')
    first = next(iter(results.values()))
    for count, times in results.items():
        ratios = ', '.join(f'{s} x{times[s] / first[s]:.2f}' for s in STAGES[1:])
        print(f'  {count} hands vs {next(iter(results))}: {ratios}')


def main():
    """Parse options, time each requested device and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--detector', default=str(FIXTURES / 'detector' / 'detector.pt'))
    parser.add_argument('--reconstructor', default=str(FIXTURES / 'wilor' / 'checkpoint.ckpt'))
    parser.add_argument('--image', default=None, help='BGR image file (default: fixture image)')
    parser.add_argument('--devices', default='cpu,cuda',
                        help='comma-separated; cuda is skipped when not available')
    parser.add_argument('--hands', default='1,2,4', help='comma-separated hand counts')
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--conf', type=float, default=0.3)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = parser.parse_args()
    args.hands = [int(v) for v in args.hands.split(',')]
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.image:
        image = cv2.imread(args.image, cv2.IMREAD_COLOR)
        if image is None:
            parser.error(f'cannot read image {args.image}')
    else:
        image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    print(f'image {image.shape[1]}x{image.shape[0]}, detector {args.detector}, '
          f'reconstructor {args.reconstructor}, precision {args.precision}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads')
    for name in args.devices.split(','):
        device = torch.device(name.strip())
        if device.type == 'cuda' and not torch.cuda.is_available():
            print('\ncuda: not available, skipped')
            continue
        if device.type == 'cuda':
            print(f'\ncuda device: {torch.cuda.get_device_name(device)}')
        print_table(device, bench_device(args, device, image))


if __name__ == '__main__':
    main()
