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
One-command GPU check: parity, code paths, host waits, speed, graphs, start times, to JSON.

For a GPU machine without internet: builds full-size random models itself (ViT-H width 1280,
depth 32 and RefineNet, as WiLoR; YOLOv8m-pose as the hand detector; MANO from the test
fixture) and runs, in an estimated 5-8 minutes on an H100 (``python bench/gpu_check.py --out
gpu_check.json``):

* parity: the reconstructor on the device against the CPU in strict fp32 (max |d| of vertices),
  and on the device in tf32, fp16 and bf16 against the same fp32 reference; the detector's
  boxes in fp32 and fp16; all outputs finite;
* every code path: detector -> sharp crops, left and right hands, a blurred (large) crop,
  ``reconstruct`` with the detector's device tensors, ``process_batch`` over several frames;
* host waits per frame (CUDA: ``torch.cuda.set_sync_debug_mode`` warnings; CPU: the simulated
  GPU of test/gpu_tracer.py);
* eager speed at 640x480 and 1280x720: p50/p99 latency and fps of ``pipe(image)`` for 1, 2
  and 4 hands, ``process_batch`` of 1, 2, 4 and 8 frames (2 hands each), per-stage times,
  peak memory;
* start times with ``compile=True`` (the node's ``max_hands`` default, 10: buckets 1, 2, 4, 8
  and 16, at 640x480), each in a fresh process: a first start with an empty compile cache
  and a second start that uses the persistent cache of :mod:`wilor_ros.compile_cache`;
* graphs (``compile=True``, CUDA graphs): the same single-stream and batch measurements,
  then the graph report (compilations after warm-up, misses);
* overlap (``process_stream``: the next batch's detector during this batch's reconstructor)
  against ``process_batch``, eager and with graphs;
* capture (``graph_mode='capture'``, CUDA only): CUDA graphs recorded from the eager
  networks: warm-up time at ``max_hands`` 10 (its whole start-up cost), then the same
  single-stream, batch and overlap measurements;
* the official WiLoR demo's data path side by side (``bench/bench_vs_official.py``: the
  official repository is not available offline; that script re-creates its path from the
  documented steps), on the same device.

Random detector weights find no real hands: the detector runs with ``conf=0`` so that NMS
always keeps ``max_hands`` boxes, i.e. exactly the requested number of hands per frame. The
JSON is written after every section, so a run cut short keeps what it measured.

Run: ``python bench/gpu_check.py [--device cuda] [--precision auto] [--out gpu_check.json]``;
``--device cpu --small`` runs the same checks with tiny models in about a minute (CI does,
test/test_bench_gpu_check.py); on the CPU the compile sections are skipped (recorded in
``not_run``) unless ``--compile-backend`` is given (``eager``: Dynamo only, a cheap check of
the sections themselves).
"""

import argparse
import contextlib
import copy
import json
import os
import pathlib
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

# bench/ is the script's directory, so the sibling benchmark's helper is importable.
from bench_reconstructor import random_wilor
import numpy as np
import torch

from wilor_ros.detector import HandDetector
from wilor_ros.models.yolo_pose import YoloPose, YoloPoseConfig
from wilor_ros.options import DEFAULT_MAX_HANDS
from wilor_ros.pipeline import HandPipeline
from wilor_ros.precision import configure_backends, detector_dtype, resolve_precision

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / 'test' / 'fixtures' / 'a'
# ultralytics yolov8m-pose.yaml: width 0.75, depth 0.67, max channels 768.
YOLOV8M_POSE = YoloPoseConfig(widths=(48, 96, 192, 384, 576), backbone_depths=(2, 4, 4, 2),
                              neck_widths=(384, 192, 192, 384, 384, 576),
                              neck_depths=(2, 2, 2, 2), box_hidden=64, cls_hidden=192,
                              kpt_hidden=63)
# 'images': the frame sizes timed (height, width), the first also for batches and start times;
# 'image': the one of parity, code paths and stages.
SIZES = {'full': {'width': 1280, 'depth': 32, 'detector': YOLOV8M_POSE, 'image': (720, 1280),
                  'images': ((480, 640), (720, 1280)), 'imgsz': 640, 'repeats': 30,
                  'warm_up': 3, 'parity_crops': 2},
         'small': {'width': 160, 'depth': 2, 'detector': YoloPoseConfig(), 'image': (240, 320),
                   'images': ((240, 320), (480, 640)), 'imgsz': 320, 'repeats': 2,
                   'warm_up': 1, 'parity_crops': 2}}
HANDS = (1, 2, 4)
FRAMES = (1, 2, 4, 8)


def sync(device):
    """Wait for queued GPU work, so that wall-clock times are complete."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


WARM_UP = {'calls': 2}


def timed(function, device, repeats, warm_up=None):
    """Run ``function`` ``warm_up`` + ``repeats`` times; return its last result and times (s)."""
    result, times = None, []
    warm_up = WARM_UP['calls'] if warm_up is None else warm_up
    for index in range(warm_up + repeats):
        sync(device)
        start = time.perf_counter()
        result = function()
        sync(device)
        if index >= warm_up:
            times.append(time.perf_counter() - start)
    return result, times


def latency(times):
    """Median and 99th percentile in ms and frames per second of a list of seconds."""
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    median = statistics.median(ordered)
    return {'p50_ms': 1e3 * median, 'p99_ms': 1e3 * p99, 'fps': 1.0 / median}


def random_detector(config, device, dtype, imgsz=640):
    """Build a fused YOLOv8-pose of ``config`` with random weights (0 left, 1 right)."""
    torch.manual_seed(3)
    network = YoloPose(config).eval().requires_grad_(False).fuse_batchnorm()
    return HandDetector(network, imgsz=imgsz, device=device, dtype=dtype)


def test_image(height, width):
    """A textured BGR test frame (random detector weights find 'hands' anywhere)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(image, 8, 0), 8, 1))


def vertex_parity(model, device, crops, precisions, reference):
    """Max |d| (m) of vertices per precision on ``device`` against the CPU fp32 reference."""
    report = {}
    for precision in precisions:
        candidate = copy.deepcopy(model).to(device).set_precision(precision)
        with torch.inference_mode():
            vertices = candidate(crops.to(device))['pred_vertices'].float().cpu()
        report[precision] = {'max_abs_vertices_m': float((vertices - reference).abs().max()),
                             'mean_abs_vertices_m': float((vertices - reference).abs().mean()),
                             'finite': bool(torch.isfinite(vertices).all())}
        del candidate
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return report


def count_host_waits(pipe, image, device):
    """Blocking host-device events of one ``pipe(image)`` call (after a warm-up call)."""
    pipe(image)
    if device.type == 'cuda':
        caught = []

        def record(message, *_):
            if str(message).startswith('Synchronization debug mode is a prototype'):
                return  # the notice of switching the mode on, not a synchronisation
            # The warning's text names no operation: keep the project's frames of the stack.
            stack = [f'{pathlib.Path(f.filename).name}:{f.lineno} {f.line}'
                     for f in traceback.extract_stack()
                     if 'wilor_ros' in f.filename or 'bench' in f.filename][-4:]
            caught.append({'message': str(message)[:80], 'where': stack})

        with warnings.catch_warnings():
            warnings.simplefilter('always')
            warnings.showwarning = record
            torch.cuda.set_sync_debug_mode('warn')
            try:
                pipe(image)
            finally:
                torch.cuda.set_sync_debug_mode('default')
        return {'method': 'torch.cuda.set_sync_debug_mode', 'blocking': len(caught),
                'events': caught}
    sys.path.insert(0, str(REPO / 'test'))
    from gpu_tracer import CUDA, SimulatedCuda

    tracer = SimulatedCuda()
    with tracer:
        simulated = HandPipeline(copy.deepcopy(pipe.detector), copy.deepcopy(pipe.reconstructor),
                                 conf=pipe.conf, max_hands=pipe.max_hands)
        simulated.detector.network.to(CUDA)
        simulated.detector.device = CUDA
        simulated.reconstructor.to(CUDA)
        simulated(image)
        tracer.reset()
        simulated(image)
    return {'method': 'simulated cuda:0 (test/gpu_tracer.py)',
            'blocking': len(tracer.blocking()), 'events': [str(e) for e in tracer.events]}


def stage_times(pipe, image, hands, device, repeats):
    """Median ms of detector, crops, reconstructor and post-processing for ``hands`` hands."""
    from wilor_ros.crops import cut_hand_crops, frame_to_tensor
    from wilor_ros.frame_hands import FrameHands
    from wilor_ros.postprocess import outputs_to_host

    pipe.configure(max_hands=hands)
    frame = frame_to_tensor(image, device)
    (found,), detect_times = timed(lambda: pipe._detect_frames([frame]), device, repeats)

    def crop():
        planned = FrameHands.of(frame, found['boxes'], found['scores'], found['is_right'],
                                None, pipe.rescale_factor, pipe.reconstructor.crop_size)
        return cut_hand_crops([frame], np.zeros(len(planned.boxes), np.int64), planned.center,
                              planned.size, planned.is_right, pipe.reconstructor.crop_size)

    crops, crop_times = timed(crop, device, repeats)
    outputs, network_times = timed(lambda: pipe._run_network(crops), device, repeats)
    _, post_times = timed(lambda: outputs_to_host(outputs), device, repeats)
    return {name: 1e3 * statistics.median(times) for name, times in (
        ('detector', detect_times), ('crops', crop_times), ('reconstructor', network_times),
        ('post', post_times))}


class Report(dict):
    """The JSON report, rewritten after every section so that a run cut short keeps its data."""

    def __init__(self, path, **fields):
        """Start the clock; the report goes to ``path``."""
        super().__init__(fields)
        self.path = path
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def section(self, name):
        """Time a section; record (not raise) its error so the later sections still run."""
        start = time.perf_counter()
        print(f'[{time.perf_counter() - self.started:6.1f} s] {name}', flush=True)
        try:
            yield
        except Exception as error:  # report it, keep the rest of the check
            self.setdefault('errors', {})[name] = f'{type(error).__name__}: {error}'[:500]
            print(f'  {name} failed: {traceback.format_exc()}', flush=True)
        self.setdefault('section_s', {})[name] = round(time.perf_counter() - start, 2)
        self.write()

    def write(self):
        """Write the report as it stands."""
        self['seconds'] = time.perf_counter() - self.started
        self.path.write_text(json.dumps(self, indent=2))


def network_times(model, device, precisions, crop, repeats):
    """Median ms of the reconstructor forward on 2 and 8 crops per precision."""
    result = {}
    for precision in precisions:
        configure_backends(precision)
        candidate = copy.deepcopy(model).to(device).set_precision(precision)
        for count in (2, 8):
            batch = torch.zeros((count, 3, crop, crop), device=device)
            with torch.inference_mode():
                _, times = timed(lambda: candidate(batch)['pred_vertices'], device, repeats)
            result[f'{precision}_{count}_crops'] = 1e3 * statistics.median(times)
        candidate = None
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return result


def hw_label(image_hw):
    """Return '640x480' for (480, 640)."""
    return f'{image_hw[1]}x{image_hw[0]}'


def single_stream(pipe, images, device, repeats):
    """p50/p99/fps of ``pipe(image)`` for 1, 2 and 4 hands per image size."""
    result = {}
    for label, image in images.items():
        for count in HANDS:
            pipe.configure(max_hands=count)
            _, times = timed(lambda: pipe(image), device, repeats)
            result.setdefault(label, {})[f'{count}_hands'] = latency(times)
    return result


def batches(pipe, image, device, repeats):
    """p50/p99/fps and frames/s of ``process_batch`` of 1, 2, 4 and 8 frames of 2 hands."""
    result = {}
    pipe.configure(max_hands=2)
    for count in FRAMES:
        frames = [image] * count
        _, times = timed(lambda: pipe.process_batch(frames), device,
                         max(1, min(repeats, 32 // count)))
        result[f'{count}_frames'] = latency(times)
        result[f'{count}_frames']['frames_per_s'] = count * result[f'{count}_frames']['fps']
    return result


def overlap(pipe, image, device, repeats):
    """
    Frames/s and latency of ``process_stream`` (detector of t+1 overlapping t) vs batch by batch.

    For 1 and 4 frames of 2 hands per batch, ``repeats`` batches each way, interleaved three
    times; latency: from a batch being taken to its results (the stream takes batch t+1 while
    batch t reconstructs).
    """
    pipe.configure(max_hands=2)
    result = {}
    for count in (1, 4):
        frames = [image] * count
        stream_fps, batch_fps, latencies = [], [], []
        for _ in range(3):
            taken = []

            def feed():
                for _ in range(repeats):
                    taken.append(time.perf_counter())
                    yield {'images': frames}

            sync(device)
            start = time.perf_counter()
            for index, _ in enumerate(pipe.process_stream(feed())):
                latencies.append(time.perf_counter() - taken[index])
            sync(device)
            stream_fps.append(count * repeats / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(repeats):
                pipe.process_batch(frames)
            sync(device)
            batch_fps.append(count * repeats / (time.perf_counter() - start))
        stream, batch = float(np.median(stream_fps)), float(np.median(batch_fps))
        result[f'{count}_frames'] = {'stream_frames_per_s': stream, 'batch_frames_per_s': batch,
                                     'stream_over_batch': stream / batch,
                                     'stream_latency': latency(latencies)}
    return result


def build_models(size, device, precision):
    """Build the seeded random detector and reconstructor of ``size`` at ``precision``."""
    torch.manual_seed(0)
    model = random_wilor(size['width'], size['depth'], FIXTURES / 'wilor' / 'checkpoint.ckpt')
    reconstructor = model.to(device).set_precision(precision)
    return random_detector(size['detector'], device, detector_dtype(precision),
                           size['imgsz']), reconstructor


def cache_key(args, size, device, precision, image_hw):
    """Return the compile cache key of these random models (no weights files name them)."""
    from wilor_ros.compile_cache import compile_cache_key

    return compile_cache_key(device, precision, [
        f'random WiLoR ViT width {size["width"]} depth {size["depth"]} seed 0',
        f'random YOLOv8-pose widths {list(size["detector"].widths)} imgsz {size["imgsz"]}'],
        image_hw, max_hands=DEFAULT_MAX_HANDS, backend=args.compile_backend)


def persistent_cache(directory):
    """Use ``directory`` as ``$WILOR_ROS_CACHE``: inductor's caches and the artifacts file."""
    from wilor_ros.compile_cache import use_persistent_inductor_cache

    os.environ['WILOR_ROS_CACHE'] = str(directory)
    os.environ.pop('TORCHINDUCTOR_CACHE_DIR', None)
    return use_persistent_inductor_cache()


def start_probe(args, size, device):
    """
    One start as the node makes it with ``compile``, in this (fresh) process: print JSON.

    Builds the models, loads the compile cache of ``args.start_probe`` (a directory used as
    ``$WILOR_ROS_CACHE``), warms up at the first image size for the node's ``max_hands``
    default and saves the cache, timing each step.
    """
    from wilor_ros.compile_cache import CompileCache

    begin = time.perf_counter()
    precision = resolve_precision(args.precision, device)
    configure_backends(precision)
    image_hw = size['images'][0]
    inductor_dir = persistent_cache(args.start_probe)
    detector, reconstructor = build_models(size, device, precision)
    report = {'build_s': time.perf_counter() - begin, 'inductor_cache': str(inductor_dir)}
    start = time.perf_counter()
    cache = CompileCache(cache_key(args, size, device, precision, image_hw))
    report['artifacts_loaded'] = cache.load()
    report['load_s'] = time.perf_counter() - start
    pipe = HandPipeline(detector, reconstructor, conf=0.0, max_hands=DEFAULT_MAX_HANDS,
                        compile=True, compile_backend=args.compile_backend)
    report['warm_up_s'] = pipe.warm_up(image_hw)
    start = time.perf_counter()
    report['artifacts_saved'] = cache.save()
    report['save_s'] = time.perf_counter() - start
    report['cache_file_mb'] = (cache.path.stat().st_size / 2 ** 20 if cache.path.exists()
                               else 0.0)
    report['buckets'] = sorted(pipe.graphs.buckets)
    report['graphs'] = pipe.graphs.report()
    report['start_to_ready_s'] = time.perf_counter() - begin
    print('START_PROBE ' + json.dumps(report), flush=True)
    return 0


def run_start(args, cache_dir, label, timeout):
    """Run :func:`start_probe` in a fresh process; return its report (with its wall time)."""
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), '--start-probe',
               str(cache_dir), '--device', args.device, '--precision', args.precision,
               '--compile-backend', args.compile_backend] + (['--small'] if args.small else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith('START_PROBE ')]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f'{label} start failed (rc {done.returncode}): '
                           + (done.stderr or done.stdout)[-400:])
    report = json.loads(lines[-1][len('START_PROBE '):])
    report['process_s'] = time.perf_counter() - start
    return report


def vs_official(args, size, timeout):
    """Run bench/bench_vs_official.py on the device with the random full-size model."""
    command = [sys.executable, str(REPO / 'bench' / 'bench_vs_official.py'), '--models',
               'random', '--width', str(size['width']), '--depth', str(size['depth']),
               '--devices', args.device, '--sizes', '640x480,1280x720', '--random-sizes',
               'all', '--hands', '1,2,4', '--precisions', 'bf16', '--random-repeats', '3',
               '--random-warmup', '1']
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO / 'bench')
    lines = done.stdout.splitlines()
    return {'baseline': 'official-demo-style path re-created from the documented steps '
                        '(bench/bench_vs_official.py); the official repository itself: not '
                        'run, not available offline',
            'command': ' '.join(command[1:]), 'rc': done.returncode, 'output': lines[-60:],
            'stderr_tail': done.stderr[-400:] if done.returncode else '',
            'headline': [line for line in lines if line.startswith('speed-up')]}


def main():
    """Run every check; write the JSON report and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--precision', default='auto', help='pipeline precision for speed')
    parser.add_argument('--small', action='store_true', help='tiny models (CI, CPU)')
    parser.add_argument('--no-compile', action='store_true', help='skip compile=True')
    parser.add_argument('--compile-backend', default=None,
                        help='torch.compile backend of the compile sections (default: inductor '
                        'on CUDA; on the CPU they are skipped unless one is given)')
    parser.add_argument('--no-official', action='store_true',
                        help='skip the official-style path comparison')
    parser.add_argument('--start-probe', type=pathlib.Path, default=None,
                        help=argparse.SUPPRESS)  # internal: one timed start in a fresh process
    parser.add_argument('--repeats', type=int, default=None)
    parser.add_argument('--out', type=pathlib.Path, default=pathlib.Path('gpu_check.json'))
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'CUDA is not available to torch {torch.__version__}')
    size = SIZES['small' if args.small else 'full']
    compiling = not args.no_compile and (device.type == 'cuda'
                                         or args.compile_backend is not None)
    args.compile_backend = args.compile_backend or 'inductor'
    if args.start_probe is not None:
        return start_probe(args, size, device)
    repeats = args.repeats or size['repeats']
    WARM_UP['calls'] = size['warm_up']
    report = Report(args.out, device=str(device), small=args.small, torch=torch.__version__,
                    python=platform.python_version(), sizes={
                        'vit_width': size['width'], 'vit_depth': size['depth'],
                        'detector_widths': list(size['detector'].widths),
                        'image_hw': list(size['image'])})
    if device.type == 'cuda':
        report['gpu'] = torch.cuda.get_device_name(device)

    # Parity: the same random weights on the CPU (strict fp32) and on the device.
    configure_backends('fp32')
    torch.manual_seed(0)
    model = random_wilor(size['width'], size['depth'], FIXTURES / 'wilor' / 'checkpoint.ckpt')
    crops = torch.from_numpy(np.load(FIXTURES / 'wilor' / 'crops.npz')['img'])
    crops = crops[:size['parity_crops']]
    with report.section('parity'):
        with torch.inference_mode():
            reference = model(crops)['pred_vertices'].float()
        report['parity_vs_cpu_fp32'] = vertex_parity(model, device, crops,
                                                     ('fp32', 'fp16', 'bf16'), reference)
        if device.type == 'cuda':
            configure_backends('tf32')
            report['parity_vs_cpu_fp32'].update(vertex_parity(model, device, crops, ('tf32',),
                                                              reference))
    image = test_image(*size['image'])
    with report.section('detector_parity'):
        # Raw decoded boxes (px) of every anchor: with random weights NMS may pick other
        # boxes for tiny differences, so the network output itself is compared.
        raw = {}
        for name, dtype in (('fp32', torch.float32), ('fp16', torch.float16)):
            # fp16 only on the device, compared with the CPU's fp32 (CPU fp16 is slow).
            for where in sorted({'cpu' if name == 'fp32' else device.type, device.type}):
                detector = random_detector(size['detector'], torch.device(where), dtype,
                                           size['imgsz'])
                tensor, _ = detector.preprocess(image)
                raw[f'{name}_{where}'] = detector.raw(tensor)[0][0, :4].float().cpu()
        report['detector_raw_boxes_max_abs_px_vs_cpu_fp32'] = {
            name: float((raw[f'{name}_{device.type}'] - raw['fp32_cpu']).abs().max())
            for name in ('fp32', 'fp16')}
    with report.section('reconstructor_precisions'):
        precisions = ('fp32', 'tf32', 'fp16', 'bf16') if device.type == 'cuda' \
            else ('fp32', 'bf16')
        report['reconstructor_ms'] = network_times(model, device, precisions,
                                                   model.crop_size, repeats)

    # The pipeline at the requested precision.
    precision = resolve_precision(args.precision, device)
    configure_backends(precision)
    report['precision'] = precision
    reconstructor = copy.deepcopy(model).to(device).set_precision(precision)
    del model
    pipe = HandPipeline(random_detector(size['detector'], device, detector_dtype(precision),
                                        size['imgsz']),
                        reconstructor, conf=0.0, max_hands=2)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        report['model_memory_mb'] = torch.cuda.memory_allocated(device) / 2 ** 20
    paths = report['code_paths'] = {}
    with report.section('code_paths'):
        report['warm_up_s'] = pipe.warm_up(size['image'])
        hands = pipe(image)
        paths['detector_and_sharp_crops'] = len(hands)
        height, width = size['image']
        two = np.array([[0.2 * width, 0.3 * height, 0.4 * width, 0.6 * height],
                        [0.6 * width, 0.3 * height, 0.8 * width, 0.6 * height]], np.float32)
        paths['left_and_right'] = [h.is_right for h in pipe.reconstruct(image, two, [0, 1])]
        large = np.array([[0.1 * width, 0.05 * height, 0.9 * width, 0.95 * height]],
                         np.float32)
        blurred = pipe.reconstruct(image, large * max(1.0, 640.0 / width), [False])
        paths['blurred_crop'] = bool(blurred and np.isfinite(blurred[0].vertices).all())
        frame = torch.from_numpy(image).to(device)
        found = pipe.detector.detect(frame, conf=0.0, max_det=2)
        paths['reconstruct_device_tensors'] = len(pipe.reconstruct(frame, found['boxes'],
                                                                   found['is_right']))
        paths['process_batch'] = [len(h) for h in pipe.process_batch([image,
                                                                      image[::-1].copy()])]
        paths['all_finite'] = all(np.isfinite(h.vertices).all() for h in hands)
    with report.section('host_waits'):
        report['host_waits_per_frame'] = count_host_waits(pipe, image, device)
    images = {hw_label(hw): test_image(*hw) for hw in size['images']}
    first_label = hw_label(size['images'][0])
    speed = report['speed'] = {'eager': {}, 'graphs': {}}
    with report.section('speed'):
        speed['eager'].update(single_stream(pipe, images, device, repeats))
        speed['eager']['batch_' + first_label] = batches(pipe, images[first_label], device,
                                                         repeats)
    with report.section('overlap'):
        report['overlap'] = overlap(pipe, images[first_label], device, repeats)
    with report.section('stages'):
        report['stages_ms'] = {f'{count}_hands': stage_times(pipe, image, count, device,
                                                             repeats)
                               for count in HANDS}
    if device.type == 'cuda':
        report['peak_memory_mb'] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    not_run = report.setdefault('not_run', {})
    if compiling:
        report['compile_backend'] = args.compile_backend
        cache_dir = pathlib.Path(tempfile.mkdtemp(prefix='gpu_check_compile_cache_'))
        starts = report['start'] = {'cache_dir': str(cache_dir), 'max_hands': DEFAULT_MAX_HANDS,
                                    'image': first_label}
        # Fresh processes, as a node restart: the first with an empty cache directory.
        for label, timeout in (('first', 360), ('second', 240)):
            with report.section(f'start_{label}'):
                starts[label] = run_start(args, cache_dir, label, timeout)
        with report.section('graphs'):
            graphs = report['graphs'] = {}
            from wilor_ros.compile_cache import CompileCache

            persistent_cache(cache_dir)  # this process starts third: from the saved cache
            cache = CompileCache(cache_key(args, size, device, precision, size['images'][0]))
            graphs['artifacts_loaded'] = cache.load()
            compiled = HandPipeline(pipe.detector, pipe.reconstructor, conf=0.0,
                                    max_hands=DEFAULT_MAX_HANDS, compile=True,
                                    compile_backend=args.compile_backend)
            graphs['max_hands_10_warm_up_s'] = compiled.warm_up(size['images'][0])
            graphs['prepare_for_s'] = {label: compiled.prepare_for(hw) for label, hw in
                                       zip(images, size['images'])}
            graphs['after_warm_up'] = compiled.graphs.report()
            report.write()
            speed['graphs'].update(single_stream(compiled, images, device, repeats))
            report.write()
            speed['graphs']['batch_' + first_label] = batches(compiled, images[first_label],
                                                              device, repeats)
            report.write()
            with report.section('graphs_overlap'):
                # CUDA graphs replayed on the detector's side stream: checked here first.
                speed['graphs']['overlap'] = overlap(compiled, images[first_label], device,
                                                     repeats)
            # After every timed run: anything compiled since warm-up is a cost a frame paid.
            graphs['after_timed_runs'] = compiled.graphs.report()
            graphs['warnings'] = compiled.graphs.take_warnings()
            graphs['artifacts_saved'] = cache.save()
        shutil.rmtree(cache_dir, ignore_errors=True)
    else:
        why = ('--no-compile' if args.no_compile else 'on the CPU inductor builds C++ with gcc '
               '(minutes for these models) and there are no CUDA graphs; --compile-backend '
               'eager checks the sections, a GPU measures them')
        for name in ('start_first', 'start_second', 'graphs'):
            not_run[name] = why
    if device.type == 'cuda':
        with report.section('capture'):
            # graph_mode capture: CUDA graphs recorded from the eager networks (no inductor);
            # its warm-up at max_hands 10 is its whole start-up cost (nothing to cache).
            capture = report['capture'] = {'max_hands': DEFAULT_MAX_HANDS}
            captured = HandPipeline(random_detector(size['detector'], device,
                                                    detector_dtype(precision), size['imgsz']),
                                    pipe.reconstructor, conf=0.0, max_hands=DEFAULT_MAX_HANDS,
                                    compile=True, graph_mode='capture')
            capture['warm_up_s'] = captured.warm_up(size['images'][0])
            capture['prepare_for_s'] = {label: captured.prepare_for(hw) for label, hw in
                                        zip(images, size['images'])}
            report.write()
            speed['capture'] = single_stream(captured, images, device, repeats)
            report.write()
            speed['capture']['batch_' + first_label] = batches(captured, images[first_label],
                                                               device, repeats)
            speed['capture']['overlap'] = overlap(captured, images[first_label], device,
                                                  repeats)
            capture['after_timed_runs'] = captured.graphs.report()
            capture['warnings'] = captured.graphs.take_warnings()
    if device.type == 'cuda' and not args.no_official:
        with report.section('vs_official'):
            report['vs_official'] = vs_official(args, size, 240)
    else:
        not_run['vs_official'] = ('--no-official' if args.no_official else
                                  'a GPU comparison (bench/bench_vs_official.py re-creates the '
                                  'official path; its CPU tables are in docs); the official '
                                  'repository itself is not available offline')
    report['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parity = report.get('parity_vs_cpu_fp32', {})
    waits = report.get('host_waits_per_frame', {})
    # Compile, start and comparison failures are reported, not fatal: the rest stands.
    optional = {'start_first', 'start_second', 'graphs', 'vs_official'}
    report['ok'] = bool('fp32' in parity and parity['fp32']['max_abs_vertices_m'] < 1e-3
                        and all(p['finite'] for p in parity.values())
                        and paths.get('all_finite') and paths.get('blurred_crop')
                        and waits.get('blocking', 99) <= 3
                        and set(report.get('errors', {})) <= optional)
    report.write()
    print(summary_line(report, precision, device, args.out))
    return 0 if report['ok'] else 1


def summary_line(report, precision, device, out):
    """One line: parity, waits, eager, graph and captured speed, start times, graph counts."""
    parity = report.get('parity_vs_cpu_fp32', {})
    waits = report.get('host_waits_per_frame', {})
    eager, graphs = report['speed']['eager'], report['speed']['graphs']
    label = hw_label(SIZES['small' if report['small'] else 'full']['images'][-1])

    def fps(table):
        return '/'.join(f'{table.get(label, {}).get(f"{n}_hands", {}).get("fps", 0):.1f}'
                        for n in HANDS)

    def eight(table):
        batch = [v for k, v in table.items() if k.startswith('batch_')]
        return batch[0].get('8_frames', {}).get('frames_per_s', 0) if batch else 0

    text = (f'gpu_check {"OK" if report["ok"] else "FAILED"}: {report.get("gpu", device)} '
            f'{precision}; fp32 vs CPU '
            f'{parity.get("fp32", {}).get("max_abs_vertices_m", -1):.2e} m, bf16 '
            f'{parity.get("bf16", {}).get("max_abs_vertices_m", -1):.2e} m; host waits/frame '
            f'{waits.get("blocking")}; {label} 1/2/4 hands eager {fps(eager)} fps')
    if graphs:
        counts = report.get('graphs', {}).get('after_timed_runs', {})
        starts = report.get('start', {})
        text += (f', graphs {fps(graphs)} fps; 8 frames eager {eight(eager):.1f} / graphs '
                 f'{eight(graphs):.1f} frames/s; warm-up first/second start '
                 f'{starts.get("first", {}).get("warm_up_s", -1):.1f}/'
                 f'{starts.get("second", {}).get("warm_up_s", -1):.1f} s; compilations after '
                 f'warm-up {counts.get("compilations_after_warm_up")}, misses '
                 f'{counts.get("graph_misses")}')
    else:
        text += f'; 8 frames {eight(eager):.1f} frames/s'
    captured = report['speed'].get('capture')
    if captured:
        text += (f'; capture {fps(captured)} fps, 8 frames {eight(captured):.1f} frames/s, '
                 f'warm-up {report.get("capture", {}).get("warm_up_s", -1):.1f} s')
    if report.get('errors'):
        text += f'; errors in {", ".join(sorted(report["errors"]))}'
    return text + f'; {report["seconds"]:.0f} s -> {out}'


if __name__ == '__main__':
    sys.exit(main())
