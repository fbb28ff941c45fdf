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
``wilor-export``: export both networks to ONNX (and build TensorRT engines) ahead of time.

Exports the hand detector's core (letterboxed batch -> fixed-size detection table) for the
letterbox of each ``--image-size`` and the reconstructor (crops -> the outputs the pipeline
needs) to fp32 ONNX with a dynamic batch axis, checks each against torch on the spot (max |Δ|
printed) and stores them in the cache (``$WILOR_ROS_CACHE/engines``), keyed by the weights'
SHA-256 and the versions that matter. ``--tensorrt`` then builds the engines of this GPU.
The ``onnxruntime`` and ``tensorrt`` backends make whatever is missing on first use; this
command only moves that wait out of the robot's start-up.
"""

import argparse
import pathlib
import sys
import time

from wilor_ros.backends import BackendError
from wilor_ros.backends.engine_cache import engines_dir, say
from wilor_ros.backends.exports import CachedExports
from wilor_ros.detector import DEFAULT_TABLE_SIZE
from wilor_ros.letterbox import plan_letterbox
from wilor_ros.loading import PipelineLoadError, resolve_device
from wilor_ros.precision import PRECISIONS
from wilor_ros.tools import interrupt_on_sigterm
from wilor_ros.weights import default_weight_paths, missing_weights_hint


def image_size(text):
    """Parse HEIGHTxWIDTH (e.g. 480x640) for argparse."""
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected HEIGHTxWIDTH like 480x640, got {text!r}')
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f'sizes must be positive, got {text!r}')
    return height, width


def build_parser():
    """Command-line interface of ``wilor-export``."""
    parser = argparse.ArgumentParser(
        prog='wilor-export',
        description='Export the WiLoR networks to ONNX (fp32, checked against torch) and '
                    'optionally build TensorRT engines, into the engine cache.')
    parser.add_argument('--detector', default=None, help='detector.pt (default: the '
                        'wilor-download cache)')
    parser.add_argument('--reconstructor', default=None, help='wilor_final.ckpt (default: '
                        'the wilor-download cache)')
    parser.add_argument('--image-size', type=image_size, action='append', default=None,
                        metavar='HxW', help='camera image size (repeatable; default 480x640): '
                        'the detector is exported for its letterbox')
    parser.add_argument('--table-size', type=int, default=DEFAULT_TABLE_SIZE,
                        help="detection rows per frame (>= the pipeline's max_hands)")
    parser.add_argument('--tensorrt', action='store_true',
                        help='also build the TensorRT engines for this GPU')
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help='TensorRT engine precision (auto = fp16)')
    parser.add_argument('--device', default='cuda', help='GPU of the TensorRT engines')
    parser.add_argument('--cache', default=None,
                        help='engine cache folder (default $WILOR_ROS_CACHE/engines)')
    return parser


def run(args):
    """Export (and build) everything the arguments ask for; raise BackendError on failure."""
    defaults = default_weight_paths()
    paths = {'detector': args.detector or defaults['detector'],
             'reconstructor': args.reconstructor or defaults['reconstructor']}
    for name, path in paths.items():
        if not pathlib.Path(path).expanduser().is_file():
            raise BackendError(f'{name} weights not found: {path}; {missing_weights_hint()}')
    if args.table_size < 1:
        raise BackendError(f'--table-size must be at least 1, got {args.table_size}')
    start = time.perf_counter()
    exports = CachedExports(paths['detector'], paths['reconstructor'], args.cache)
    # Image sizes that share a letterbox share an export: count the steps over letterboxes.
    detector = exports.torch_network('detector')
    letterboxes = []
    for hw in args.image_size or [(480, 640)]:
        box = plan_letterbox(hw, detector.imgsz, detector.stride)
        if box.input_hw not in letterboxes:
            letterboxes.append(box.input_hw)
    steps = 1 + len(letterboxes) + (2 if args.tensorrt else 0)
    say(f'[1/{steps}] reconstructor')
    made = [exports.reconstructor().path('.onnx')]
    exports.release('reconstructor')
    for number, input_hw in enumerate(letterboxes, 2):
        say(f'[{number}/{steps}] detector for {input_hw[0]}x{input_hw[1]} letterboxes')
        made.append(exports.detector(input_hw, args.table_size).path('.onnx'))
    if args.tensorrt:
        made += build_engines(args, exports, letterboxes, steps)
    for path in made:
        print(path)
    say(f'done in {time.perf_counter() - start:.0f} s; cache: {engines_dir(args.cache)}')


def build_engines(args, exports, letterboxes, steps):
    """Build the TensorRT engines of both networks from ``exports``; return their paths."""
    from wilor_ros.backends import import_optional
    from wilor_ros.backends.tensorrt_backend import engine_precision, EngineCache
    trt = import_optional('tensorrt')
    device = resolve_device(args.device)
    if not device.startswith('cuda'):
        raise BackendError('--tensorrt needs a CUDA GPU (--device cuda)')
    engines = EngineCache(trt, device, exports, args.cache)
    say(f'[{steps - 1}/{steps}] TensorRT reconstructor engine')
    precision = engine_precision(args.precision, 'reconstructor')
    engines.runner('reconstructor', exports.reconstructor, precision)
    # The engines of this run only: the folder also holds those of other weights or precisions.
    made = [engines.entry('reconstructor', exports.reconstructor(), precision).path('.engine')]
    say(f'[{steps}/{steps}] TensorRT detector engines')
    precision = engine_precision(args.precision, 'detector')
    for input_hw in letterboxes:
        engines.runner('detector', lambda: exports.detector(input_hw, args.table_size),
                       precision)
        made.append(engines.entry('detector', exports.detector(input_hw, args.table_size),
                                  precision).path('.engine'))
    return made


def main(argv=None):
    """Entry point of ``wilor-export``."""
    interrupt_on_sigterm()
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (BackendError, PipelineLoadError) as error:
        print(f'wilor-export: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('wilor-export: interrupted; nothing half-made is kept', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
