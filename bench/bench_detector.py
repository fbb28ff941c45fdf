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
Per-stage timing of the hand detector (letterbox, network, NMS + scale back).

Usage: ``python bench/bench_detector.py [--detector detector.pt] [--image img.png]
[--device cuda] [--dtype float16] [--runs 50]``. Defaults to the parity fixture detector and
image; prints median milliseconds per stage.
"""

import argparse
import pathlib
import statistics
import time

import cv2
import numpy as np
import torch

from wilor_ros.detector import load_detector, non_max_suppression, scale_to_image

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'a' / 'detector'


def _timed(function, device, runs):
    times = []
    result = None
    for _ in range(runs):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = function()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return result, statistics.median(times)


def main():
    """Time each detector stage and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--detector', default=str(FIXTURE / 'detector.pt'))
    parser.add_argument('--image', default=None, help='image file (default: fixture image)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--conf', type=float, default=0.3)
    args = parser.parse_args()

    detector = load_detector(args.detector, device=args.device, dtype=getattr(torch, args.dtype))
    device = detector.device
    if args.image:
        image = cv2.imread(args.image)
        if image is None:
            raise SystemExit(f'cannot read image {args.image}')
    else:
        image = np.load(FIXTURE / 'detect.npz')['image']
    image_tensor = torch.from_numpy(image).to(device)
    print(f'detector {args.detector}: {detector.config}')
    print(f'device {device}, dtype {args.dtype}, image {image.shape[1]}x{image.shape[0]}, '
          f'imgsz {detector.imgsz}')

    for _ in range(3):
        detector.detect(image_tensor, conf=args.conf)
    (numpy_input, box), t_numpy = _timed(lambda: detector.preprocess(image), device, args.runs)
    (torch_input, _), t_torch = _timed(lambda: detector.preprocess(image_tensor), device,
                                       args.runs)
    (output, _), t_net = _timed(lambda: detector.raw(torch_input), device, args.runs)

    def postprocess():
        rows = non_max_suppression(output[0], detector.config.num_classes, args.conf, 0.7)
        return scale_to_image(rows[:, :4], rows[:, 6:].reshape(len(rows), -1, 3), box)

    _, t_post = _timed(postprocess, device, args.runs)
    result, t_total = _timed(lambda: detector.detect(image_tensor, conf=args.conf), device,
                             args.runs)
    print(f'letterbox numpy/cv2 {t_numpy:7.2f} ms  (input {tuple(numpy_input.shape)})')
    print(f'letterbox torch     {t_torch:7.2f} ms')
    print(f'network             {t_net:7.2f} ms')
    print(f'nms + scale back    {t_post:7.2f} ms')
    print(f'detect (tensor in)  {t_total:7.2f} ms  -> {len(result["scores"])} hands')


if __name__ == '__main__':
    main()
