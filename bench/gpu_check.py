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
One-command GPU check: parity, code paths, host waits, speed and memory, written to JSON.

For a GPU machine without internet: builds full-size random models itself (ViT-H width 1280,
depth 32 and RefineNet, as WiLoR; YOLOv8m-pose as the hand detector; MANO from the test
fixture) and runs, in a few minutes:

* parity: the reconstructor on the device against the CPU in strict fp32 (max |d| of vertices),
  and on the device in tf32, fp16 and bf16 against the same fp32 reference; the detector's
  boxes in fp32 and fp16; all outputs finite;
* every code path: detector -> sharp crops, left and right hands, a blurred (large) crop,
  ``reconstruct`` with the detector's device tensors, ``process_batch`` over several frames,
  ``compile=True`` (CUDA only, skipped with ``--no-compile``);
* host waits per frame (CUDA: ``torch.cuda.set_sync_debug_mode`` warnings; CPU: the simulated
  GPU of test/gpu_tracer.py);
* frames per second and p50/p99 latency of ``pipe(image)`` for 1, 2 and 4 hands and of
  ``process_batch`` for 1, 2, 4 and 8 frames (2 hands each), per-stage times, peak memory.

Random detector weights find no real hands: the detector runs with ``conf=0`` so that NMS
always keeps ``max_hands`` boxes, i.e. exactly the requested number of hands per frame.

Run: ``python bench/gpu_check.py [--device cuda] [--precision auto] [--out gpu_check.json]``;
``--device cpu --small`` runs the same checks with tiny models in under a minute (CI does,
test/test_bench_gpu_check.py).
"""

import argparse
import contextlib
import copy
import json
import pathlib
import platform
import resource
import statistics
import sys
import time
import traceback
import warnings

# bench/ is the script's directory, so the sibling benchmark's helper is importable.
from bench_reconstructor import random_wilor
import numpy as np
import torch

from wilor_ros.detector import HandDetector
from wilor_ros.models.yolo_pose import YoloPose, YoloPoseConfig
from wilor_ros.pipeline import HandPipeline
from wilor_ros.precision import configure_backends, detector_dtype, resolve_precision

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / 'test' / 'fixtures' / 'a'
# ultralytics yolov8m-pose.yaml: width 0.75, depth 0.67, max channels 768.
YOLOV8M_POSE = YoloPoseConfig(widths=(48, 96, 192, 384, 576), backbone_depths=(2, 4, 4, 2),
                              neck_widths=(384, 192, 192, 384, 384, 576),
                              neck_depths=(2, 2, 2, 2), box_hidden=64, cls_hidden=192,
                              kpt_hidden=63)
SIZES = {'full': {'width': 1280, 'depth': 32, 'detector': YOLOV8M_POSE, 'image': (720, 1280),
                  'imgsz': 640, 'repeats': 30, 'warm_up': 3, 'parity_crops': 2},
         'small': {'width': 160, 'depth': 2, 'detector': YoloPoseConfig(), 'image': (240, 320),
                   'imgsz': 320, 'repeats': 2, 'warm_up': 1, 'parity_crops': 2}}
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
    from wilor_ros.crops import frame_to_tensor
    from wilor_ros.postprocess import outputs_to_host

    pipe.configure(max_hands=hands)
    frame = frame_to_tensor(image, device)
    (found,), detect_times = timed(lambda: pipe._detect_frames([frame]), device, repeats)
    boxes, is_right = found['boxes'], found['is_right']
    crops, crop_times = timed(lambda: pipe._crops(frame, boxes, is_right), device, repeats)
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


def main():
    """Run every check; write the JSON report and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--precision', default='auto', help='pipeline precision for speed')
    parser.add_argument('--small', action='store_true', help='tiny models (CI, CPU)')
    parser.add_argument('--no-compile', action='store_true', help='skip compile=True')
    parser.add_argument('--repeats', type=int, default=None)
    parser.add_argument('--out', type=pathlib.Path, default=pathlib.Path('gpu_check.json'))
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'CUDA is not available to torch {torch.__version__}')
    size = SIZES['small' if args.small else 'full']
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
    speed = report['speed'] = {}
    with report.section('speed'):
        for count in HANDS:
            pipe.configure(max_hands=count)
            _, times = timed(lambda: pipe(image), device, repeats)
            speed[f'{count}_hands'] = latency(times)
        pipe.configure(max_hands=2)
        for count in FRAMES:
            images = [image] * count
            _, times = timed(lambda: pipe.process_batch(images), device,
                             max(1, min(repeats, 32 // count)))
            result = latency(times)
            result['frames_per_s'] = count * result['fps']
            speed[f'batch_{count}_frames'] = result
    with report.section('stages'):
        report['stages_ms'] = {f'{count}_hands': stage_times(pipe, image, count, device,
                                                             repeats)
                               for count in HANDS}
    if device.type == 'cuda':
        report['peak_memory_mb'] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    if device.type == 'cuda' and not args.no_compile:
        with report.section('compile'):
            compiled = HandPipeline(pipe.detector, pipe.reconstructor, conf=0.0, max_hands=2,
                                    compile=True)
            report['compile_warm_up_s'] = compiled.warm_up(size['image'], max_hands=2)
            _, times = timed(lambda: compiled(image), device, repeats)
            report['speed']['2_hands_compiled'] = latency(times)
    report['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parity = report.get('parity_vs_cpu_fp32', {})
    waits = report.get('host_waits_per_frame', {})
    report['ok'] = bool('fp32' in parity and parity['fp32']['max_abs_vertices_m'] < 1e-3
                        and all(p['finite'] for p in parity.values())
                        and paths.get('all_finite') and paths.get('blurred_crop')
                        and waits.get('blocking', 99) <= 3
                        and set(report.get('errors', {})) <= {'compile'})
    report.write()
    print(f'gpu_check {"OK" if report["ok"] else "FAILED"}: {report.get("gpu", device)} '
          f'{precision}; fp32 vs CPU {parity.get("fp32", {}).get("max_abs_vertices_m", -1):.2e}'
          f' m, bf16 {parity.get("bf16", {}).get("max_abs_vertices_m", -1):.2e} m; host '
          f'waits/frame {waits.get("blocking")}; 1/2/4 hands '
          + '/'.join(f'{speed.get(f"{n}_hands", {}).get("fps", 0):.1f}' for n in HANDS)
          + ' fps; 8 frames '
          f'{speed.get("batch_8_frames", {}).get("frames_per_s", 0):.1f} frames/s; '
          f'{report["seconds"]:.0f} s -> {args.out}')
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
