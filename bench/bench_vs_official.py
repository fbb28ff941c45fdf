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
Speed of :class:`~wilor_ros.pipeline.HandPipeline` against the official WiLoR demo's data path.

The official code cannot be run here (no internet, and its licence forbids copying it), so
its per-frame processing is re-created from the documented steps (test/fixtures/a/README.md
sections 2, 4, 7 and 10) as a baseline, labelled "official-demo-style path (re-created from
the documented steps)":

* detector: ultralytics' predict path (cv2 letterbox on the CPU, float32, fused network).
  Both paths use our :class:`~wilor_ros.detector.HandDetector` in float32 for this, so the
  detector cost is shared; the official-style path feeds it the numpy image (letterbox on the
  CPU, then upload), ours the frame already uploaded once. The detections are not used: both
  paths reconstruct the same fixed boxes, so the outputs can be compared hand by hand.
* crops: a ``ViTDetDataset``-style dataset read through a ``DataLoader`` (batch 16,
  default collation): per hand a copy of the frame, float32 box maths, a whole-image Gaussian
  blur in float64 when the crop side b > 563.2 px (what ``skimage.filters.gaussian`` runs:
  ``scipy.ndimage.gaussian_filter``, sigma (df - 1) / 2 on the two image axes, mode
  'nearest', truncate 4), a mirrored copy of the whole image for left hands, ``cv2.warpAffine``,
  BGR -> RGB and the ImageNet normalisation in float64 numpy; then the batch is uploaded.
* reconstructor: the same :class:`~wilor_ros.reconstructor.WiLoR` in float32 (the demo runs
  fp32) on the collated batch.
* post: demo.py's steps: left-hand tx flip and ``cam_crop_to_full`` on the batch (torch), then
  per hand vertices and joints to numpy, x mirrored, translated and projected (numpy, float32).
  So that both paths deliver the same fields, the per-hand loop also converts the rotation
  matrices to mirrored axis-angles (scipy, as the parity fixtures do), maps the network's 2-D
  joints to the image and fills a :class:`~wilor_ros.hand.HandResult`. demo.py projects all
  778 vertices rather than the 21 joints; projecting the joints only keeps the baseline
  cheaper, i.e. the comparison conservative.

Ours: :class:`~wilor_ros.pipeline.HandPipeline`'s steps (one frame upload shared by the
detector and the crops, batched torch crops with the blur restricted to the pixels a crop
reads, one batched reconstructor call, vectorised post-processing), timed stage by stage, plus
(fixture model) ``HandPipeline.detect`` + ``HandPipeline.reconstruct`` end to end as a check of
the staging. On CUDA, ours also runs in fp16 and bf16 (``--precisions``) against the fp32
baseline.

Models: the parity fixture weights (tiny) and a randomly initialised WiLoR of realistic width
(ViT width 1280 as ViT-H, depth ``--depth``, default 4 to fit 2 CPU cores; ``--depth 32`` is
the released size). Hands: ``N`` hand-sized boxes, and ``Nb`` = N boxes of which the first is
so large that the official crop blurs the whole image. Both paths are run alternately, after
warm-up; printed are median ms per frame per stage, for crops + post (the stages whose code
differs on the CPU) and in total, the ratios official / ours, and the largest output
differences of the two paths for the same boxes (vertices must agree within 1e-4 m, else the
script fails). The machine's load average is printed too: on a shared machine the shared
stages' noise can move the total ratio by +-10 %.

Run: ``python bench/bench_vs_official.py [--models fixture,random] [--depth 4]
[--sizes 640x480,1280x720] [--random-sizes all] [--hands 1,2,4,2b] [--devices cpu,cuda]
[--repeats 9]``
"""

import argparse
import copy
import os
import pathlib
import statistics
import sys
import time

# bench/ is the script's directory, so the sibling benchmarks' helpers are importable.
from bench_pipeline import hand_boxes as hand_boxes_spread
from bench_reconstructor import random_wilor
import cv2
import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial.transform import Rotation
import torch
from torch.utils.data import DataLoader, Dataset

from wilor_ros.crops import crop_geometry, crop_hands, frame_to_tensor
from wilor_ros.detector import load_detector
from wilor_ros.hand import HandResult
from wilor_ros.pipeline import HandPipeline
from wilor_ros.postprocess import build_hand_results
from wilor_ros.reconstructor import load_reconstructor

# The official demo's cam_crop_to_full is the tests' reference maths (the package has no use for
# it: cam_crop_to_camera covers any K).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'test'))
from reference_math import cam_crop_to_full  # noqa: E402, I100

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'a'
BASELINE = 'official-demo-style path (re-created from the documented steps)'
STAGES = ('detector', 'crops', 'reconstructor', 'post')
# Printed columns: the stages, the two stages whose code differs on the CPU (the detector and
# the reconstructor are the same code there, so their noise is shared), and the frame total.
COLUMNS = STAGES + ('crops+post', 'total')
# Official demo / ViTDetDataset constants (fixture README sections 2 and 4).
CROP_SIZE = 256
BBOX_SHAPE = (192, 256)
BLUR_DOWNSAMPLING = 1.1
DEMO_BATCH_SIZE = 16
IMAGENET_MEAN = 255.0 * np.array([0.485, 0.456, 0.406])
IMAGENET_STD = 255.0 * np.array([0.229, 0.224, 0.225])
CROP_FOCAL_LENGTH = 5000.0
# Largest vertex difference (m) for the two paths to count as computing the same thing.
VERTEX_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------
# Official-demo-style path (re-created from the documented steps)
# --------------------------------------------------------------------------------------------

class DemoStyleCrops(Dataset):
    """
    Per-hand crops the way the official ``ViTDetDataset`` makes them (numpy / OpenCV, CPU).

    Box maths in float32 at construction; in ``__getitem__`` a copy of the frame, the
    whole-image float64 blur for shrinking crops, a mirrored copy for left hands,
    ``cv2.warpAffine``, BGR -> RGB and the per-channel normalisation in float64.
    """

    def __init__(self, image_bgr, boxes, is_right, rescale_factor=2.0):
        """Keep the frame; box centres and scales in float32, as the official dataset."""
        boxes = np.asarray(boxes, dtype=np.float32)
        self.image = image_bgr
        self.center = (boxes[:, 2:4] + boxes[:, 0:2]) / 2.0
        self.scale = rescale_factor * (boxes[:, 2:4] - boxes[:, 0:2]) / 200.0
        self.right = np.asarray(is_right, dtype=np.float32)

    def __len__(self):
        """Return the number of hands."""
        return len(self.center)

    def __getitem__(self, index):
        """Return the crop and box data of hand ``index`` as numpy arrays."""
        center_x, center_y = self.center[index].copy()
        width, height = self.scale[index] * 200.0
        # expand_to_aspect_ratio((w, h), BBOX_SHAPE).max(), scalar float32 maths.
        w_t, h_t = BBOX_SHAPE
        if height / width < h_t / w_t:
            size = max(width, max(width * h_t / w_t, height))
        else:
            size = max(max(height * w_t / h_t, width), height)
        right = self.right[index].copy()
        image = self.image.copy()
        factor = size * 1.0 / CROP_SIZE / 2.0
        if factor > BLUR_DOWNSAMPLING:
            # skimage.filters.gaussian(channel_axis=2, preserve_range=True): float64 image,
            # scipy's filter on the two image axes, mode 'nearest', truncate 4.
            image = gaussian_filter(image.astype(np.float64), sigma=((factor - 1) / 2,) * 2 + (0,),
                                    mode='nearest', truncate=4.0)
        warp_x = center_x
        if right == 0:
            # OpenCV copies the negatively strided view before warping it.
            image = np.ascontiguousarray(image[:, ::-1])
            warp_x = image.shape[1] - center_x - 1
        half = size / 2.0
        src = np.array([[warp_x, center_y], [warp_x, center_y + half],
                        [warp_x + half, center_y]], dtype=np.float32)
        dst = np.array([[CROP_SIZE / 2, CROP_SIZE / 2], [CROP_SIZE / 2, CROP_SIZE],
                        [CROP_SIZE, CROP_SIZE / 2]], dtype=np.float32)
        patch = cv2.warpAffine(image, cv2.getAffineTransform(src, dst), (CROP_SIZE, CROP_SIZE),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
        img = patch[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
        for channel in range(3):
            img[channel] = (img[channel] - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel]
        return {'img': img, 'personid': int(index),
                'box_center': np.array([center_x, center_y], dtype=np.float32),
                'box_size': np.float32(size),
                'img_size': 1.0 * np.array([self.image.shape[1], self.image.shape[0]]),
                'right': right}


def demo_style_crops(image_bgr, boxes, is_right, device):
    """Collate the dataset into batches of 16 (DataLoader) and upload them to ``device``."""
    loader = DataLoader(DemoStyleCrops(image_bgr, boxes, is_right), batch_size=DEMO_BATCH_SIZE,
                        shuffle=False, num_workers=0)
    return [{key: value.to(device) for key, value in batch.items()} for batch in loader]


def demo_style_post(batch, out, boxes, scores):
    """demo.py's post-processing of one batch, per hand in numpy; list of HandResult."""
    multiplier = 2 * batch['right'] - 1
    pred_cam = out['pred_cam'].clone()
    pred_cam[:, 1] = multiplier * pred_cam[:, 1]
    box_center = batch['box_center'].float()
    box_size = batch['box_size'].float()
    img_size = batch['img_size'].float()
    focal = CROP_FOCAL_LENGTH / CROP_SIZE * img_size.max()
    cam_t_full = cam_crop_to_full(pred_cam, box_center, box_size, img_size,
                                  focal).detach().cpu().numpy()
    focal = np.float32(focal.item())
    results = []
    for n in range(batch['img'].shape[0]):
        verts = out['pred_vertices'][n].detach().cpu().numpy()
        joints = out['pred_keypoints_3d'][n].detach().cpu().numpy()
        is_right = batch['right'][n].cpu().numpy()
        verts[:, 0] = (2 * is_right - 1) * verts[:, 0]
        joints[:, 0] = (2 * is_right - 1) * joints[:, 0]
        cam_t = cam_t_full[n]
        width, height = img_size[n].cpu().numpy()
        camera = np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]],
                          dtype=np.float32)
        points = joints + cam_t
        points = points / points[:, -1:]
        keypoints_2d = (camera @ points.T).T[:, :-1]
        # Added for equal outputs (not in demo.py): axis-angles, the network's 2-D joints.
        rotations = torch.cat((out['global_orient'][n], out['hand_pose'][n])).cpu().numpy()
        axis_angle = Rotation.from_matrix(rotations.astype(np.float64)).as_rotvec()
        if not is_right:
            axis_angle[:, 1:] *= -1
        uv = out['pred_keypoints_2d'][n].cpu().numpy().astype(np.float64)
        uv[:, 0] *= 2 * is_right - 1
        center = batch['box_center'][n].cpu().numpy().astype(np.float64)
        network_2d = center + uv * float(batch['box_size'][n])
        results.append(HandResult(
            is_right=bool(is_right), score=float(scores[n]), box=boxes[n].copy(),
            keypoints_3d=joints + cam_t, keypoints_2d=keypoints_2d.astype(np.float32),
            keypoints_2d_network=network_2d.astype(np.float32),
            global_orient=axis_angle[0].astype(np.float32),
            hand_pose=axis_angle[1:].reshape(-1).astype(np.float32),
            betas=out['betas'][n].cpu().numpy(), cam_t=cam_t, focal_length=float(focal),
            principal_point=np.array([width / 2.0, height / 2.0], dtype=np.float32),
            focal_from_camera_info=False, vertices=verts + cam_t))
    return results


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

def synchronise(device):
    """Wait for queued GPU work so that wall-clock times are complete."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class StageClock:
    """Wall-clock time per stage of one frame (synchronising the device at each mark)."""

    def __init__(self, device):
        """Start the clock (after the device's queued work)."""
        self.device = device
        self.times = {}
        synchronise(device)
        self.last = time.perf_counter()

    def mark(self, stage):
        """Close ``stage``: its time is the time since the previous mark."""
        synchronise(self.device)
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + (now - self.last) * 1e3
        self.last = now


def official_style_frame(setup, image, boxes, is_right, scores):
    """Run one frame through the official-demo-style path; return (results, stage ms)."""
    detector, reconstructor, device = setup['detector'], setup['reconstructor'], setup['device']
    clock = StageClock(device)
    found = detector.detect(image, conf=setup['conf'], iou=setup['iou'],
                            max_det=setup['max_hands'])
    found = {key: value.cpu().numpy() for key, value in found.items()}
    clock.mark('detector')
    batches = demo_style_crops(image, boxes, is_right, device)
    clock.mark('crops')
    outputs = []
    with torch.no_grad():
        for batch in batches:
            outputs.append(reconstructor(batch['img']))
    clock.mark('reconstructor')
    results, start = [], 0
    for batch, out in zip(batches, outputs):
        count = batch['img'].shape[0]
        results += demo_style_post(batch, out, boxes[start:start + count],
                                   scores[start:start + count])
        start += count
    clock.mark('post')
    return results, clock.times


def pipe_for(setup, precision):
    """Return the setup's pipeline in ``precision`` (a copy with its weights cast once)."""
    if precision == 'fp32':
        return setup['pipe']
    pipes = setup.setdefault('pipes', {})
    if precision not in pipes:
        base = setup['pipe']
        pipes[precision] = HandPipeline(
            base.detector, copy.deepcopy(base.reconstructor).set_precision(precision),
            conf=base.conf, iou=base.iou, rescale_factor=base.rescale_factor,
            max_hands=base.max_hands)
    return pipes[precision]


def our_frame(setup, image, boxes, is_right, scores, precision):
    """Run one frame through HandPipeline's steps; return (results, stage ms)."""
    pipe, device = pipe_for(setup, precision), setup['device']
    clock = StageClock(device)
    # The one upload of the frame, shared by the detector's letterbox and the crops.
    frame = frame_to_tensor(image, device)
    pipe.detect(frame)
    clock.mark('detector')
    crops = crop_hands(frame, boxes, is_right, rescale_factor=pipe.rescale_factor,
                       device=device)['img']
    clock.mark('crops')
    with torch.inference_mode():
        outputs = pipe.reconstructor(crops)
    clock.mark('reconstructor')
    center, size = crop_geometry(boxes, pipe.rescale_factor)
    results = build_hand_results(outputs, center, size, boxes, scores, is_right,
                                 pipe.camera_intrinsics(None, image.shape[1], image.shape[0]))
    clock.mark('post')
    return results, clock.times


def our_end_to_end_ms(setup, image, boxes, is_right, scores, precision):
    """Milliseconds of ``HandPipeline.detect`` + ``HandPipeline.reconstruct`` for one frame."""
    pipe, device = pipe_for(setup, precision), setup['device']
    synchronise(device)
    start = time.perf_counter()
    frame = frame_to_tensor(image, device)
    pipe.detect(frame)
    pipe.reconstruct(frame, boxes, is_right, scores=scores)
    synchronise(device)
    return (time.perf_counter() - start) * 1e3


def median_times(samples):
    """Per-stage medians of a list of {stage: ms}, and the median of the per-frame totals."""
    medians = {stage: statistics.median(s[stage] for s in samples) for stage in STAGES}
    medians['crops+post'] = statistics.median(s['crops'] + s['post'] for s in samples)
    medians['total'] = statistics.median(sum(s[stage] for stage in STAGES) for s in samples)
    return medians


def max_differences(official, ours):
    """Largest differences between two lists of HandResult for the same hands."""
    def largest(field):
        return max(float(np.max(np.abs(np.asarray(getattr(a, field), dtype=np.float64)
                                       - np.asarray(getattr(b, field), dtype=np.float64))))
                   for a, b in zip(official, ours))
    return {'vertices m': largest('vertices'), 'cam_t m': largest('cam_t'),
            'keypoints_2d px': largest('keypoints_2d'),
            'pose rad': max(largest('global_orient'), largest('hand_pose')),
            'betas': largest('betas')}


# --------------------------------------------------------------------------------------------
# Scenes and models
# --------------------------------------------------------------------------------------------

def hand_boxes(width, height, spec):
    """
    Boxes for a hands spec: 'N' hand-sized boxes, 'Nb' with the first one blur-sized.

    Hand-sized boxes (side 0.18 min(W, H)) alternate right / left; the blur-sized box is a
    right hand (no mirrored copy of the blurred frame in the baseline: the cheaper official
    case) whose crop side exceeds the official 563.2 px blur threshold.
    """
    count = int(spec.rstrip('b'))
    boxes, is_right = hand_boxes_spread(width, height, count)
    if spec.endswith('b'):
        # b = 2 max(box_h, 4/3 box_w) = 640 px > 563.2 px.
        cx, cy = width * 0.35, height * 0.5
        boxes[0] = [cx - 120.0, cy - 160.0, cx + 120.0, cy + 160.0]
        is_right[0] = True
    boxes = np.asarray(boxes, dtype=np.float32)
    return boxes, np.asarray(is_right), np.linspace(0.9, 0.5, count).astype(np.float32)


def load_models(args, device):
    """Yield (name, label, HandPipeline) for each requested model on ``device``."""
    detector = load_detector(args.detector, device, dtype=torch.float32)
    for name in args.models:
        if name == 'fixture':
            reconstructor = load_reconstructor(args.checkpoint, device)
            kind = 'fixture weights'
        else:
            torch.manual_seed(args.seed)
            reconstructor = random_wilor(args.width, args.depth,
                                         args.checkpoint).to(device)
            kind = 'random weights'
        label = (f'ViT width {reconstructor.backbone.embed_dim}, depth '
                 f'{len(reconstructor.backbone.blocks)}, {kind}')
        yield name, label, HandPipeline(detector, reconstructor, conf=args.conf, iou=args.iou,
                                        max_hands=args.max_hands)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def format_row(size, hands, path, precision, times):
    """One table row of stage medians."""
    cells = ' '.join(f'{times[column]:10.2f}' for column in COLUMNS)
    return f'{size:>9} {hands:>5} {path:<9} {precision:<4} {cells}'


def format_ratio(size, hands, precision, official, ours):
    """One table row of official / ours ratios."""
    cells = ' '.join(f'{official[column] / ours[column]:9.2f}x' for column in COLUMNS)
    return f'{size:>9} {hands:>5} {"ratio":<9} {precision:<4} {cells}'


def time_row(setup, image, boxes, is_right, scores):
    """
    Time one scene on both paths, alternating frame by frame after the warm-up frames.

    Returns (official stage medians, {precision: our stage medians}, {precision: max output
    differences to the official-style path}, median ms of the end-to-end check or None).
    """
    official_samples, end_to_end = [], []
    our_samples = {precision: [] for precision in setup['precisions']}
    differences = {}
    for repeat in range(setup['warmup'] + setup['repeats']):
        timed = repeat >= setup['warmup']
        official_results, official_ms = official_style_frame(setup, image, boxes, is_right,
                                                             scores)
        if timed:
            official_samples.append(official_ms)
        for precision in setup['precisions']:
            results, ours_ms = our_frame(setup, image, boxes, is_right, scores, precision)
            if timed:
                our_samples[precision].append(ours_ms)
            if repeat == 0:
                differences[precision] = max_differences(official_results, results)
        if timed and setup['end_to_end']:
            end_to_end.append(our_end_to_end_ms(setup, image, boxes, is_right, scores, 'fp32'))
    return (median_times(official_samples),
            {precision: median_times(samples) for precision, samples in our_samples.items()},
            differences, statistics.median(end_to_end) if end_to_end else None)


def bench_model(args, setup, images):
    """Time every frame size and hand spec for one model, print the rows; return results."""
    print(f'{"image":>9} {"hands":>5} {"path":<9} {"prec":<4} '
          + ' '.join(f'{column[:10]:>10}' for column in COLUMNS))
    summary, worst, failures = {}, {}, []
    for size_label, image in images.items():
        for spec in args.hands:
            boxes, is_right, scores = hand_boxes(image.shape[1], image.shape[0], spec)
            official, ours, differences, end_to_end = time_row(setup, image, boxes, is_right,
                                                               scores)
            print(format_row(size_label, spec, 'official', 'fp32', official))
            for precision, times in ours.items():
                print(format_row(size_label, spec, 'ours', precision, times))
                print(format_ratio(size_label, spec, precision, official, times))
                summary[(size_label, spec, precision)] = (
                    official['total'] / times['total'],
                    official['crops+post'] / times['crops+post'])
            if end_to_end is not None:
                print(f'{"":>16}check: HandPipeline.detect + reconstruct, fp32: '
                      f'{end_to_end:.2f} ms')
            for precision, diff in differences.items():
                for key, value in diff.items():
                    worst[precision, key] = max(worst.get((precision, key), 0.0), value)
            if differences['fp32']['vertices m'] > VERTEX_TOLERANCE:
                failures.append(f'{size_label} {spec} hands: vertices differ by '
                                f'{differences["fp32"]["vertices m"]:.3g} m')
    for precision in setup['precisions']:
        checks = ', '.join(f'{key} {value:.2g}' for (prec, key), value in worst.items()
                           if prec == precision)
        verdict = (f'vertices <= {VERTEX_TOLERANCE:g} m: '
                   + ('OK' if not failures else 'FAILED: ' + '; '.join(failures))
                   if precision == 'fp32' else 'reduced precision, not checked')
        print(f'same boxes, max abs diff official-style fp32 vs ours {precision}: {checks} '
              f'({verdict})')
    return summary, failures


def parse_args():
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--detector', default=str(FIXTURES / 'detector' / 'detector.pt'))
    parser.add_argument('--checkpoint', default=str(FIXTURES / 'wilor' / 'checkpoint.ckpt'),
                        help='fixture model, and MANO of the random model')
    parser.add_argument('--models', default='fixture,random',
                        help='comma-separated: fixture, random')
    parser.add_argument('--width', type=int, default=1280, help='random model ViT width')
    parser.add_argument('--depth', type=int, default=4,
                        help='random model ViT depth (released: 32)')
    parser.add_argument('--sizes', default='640x480,1280x720', help='WxH frame sizes')
    parser.add_argument('--random-sizes', default='640x480',
                        help='frame sizes for the random model (its ViT dominates; keeps the '
                        'default run short); "all" = --sizes')
    parser.add_argument('--hands', default='1,2,4,2b',
                        help="hands per frame; 'Nb': N hands, the first one blur-sized")
    parser.add_argument('--devices', default='cpu,cuda',
                        help='comma-separated; cuda is skipped when not available')
    parser.add_argument('--precisions', default='fp16,bf16',
                        help='extra precisions for ours on CUDA (the baseline is fp32)')
    parser.add_argument('--conf', type=float, default=0.3)
    parser.add_argument('--iou', type=float, default=0.7)
    parser.add_argument('--max-hands', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=9, help='timed frames per row')
    parser.add_argument('--warmup', type=int, default=2, help='untimed frames per row')
    parser.add_argument('--random-repeats', type=int, default=5,
                        help='timed frames per row, random model')
    parser.add_argument('--random-warmup', type=int, default=1,
                        help='untimed frames per row, random model')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = parser.parse_args()
    args.models = [m.strip() for m in args.models.split(',') if m.strip()]
    unknown = set(args.models) - {'fixture', 'random'}
    if unknown:
        parser.error(f'unknown models {sorted(unknown)}; expected fixture, random')
    args.hands = [h.strip() for h in args.hands.split(',') if h.strip()]
    for spec in args.hands:
        if not spec.rstrip('b').isdigit() or int(spec.rstrip('b')) < 1:
            parser.error(f'bad hands spec {spec!r}; expected N or Nb with N >= 1')
    return args


def _load_average():
    try:
        return ' '.join(f'{value:.2f}' for value in os.getloadavg())
    except OSError:
        return 'unknown'


def frame_sizes(text):
    """Parse 'WxH,WxH' into a list of (W, H)."""
    sizes = []
    for item in text.split(','):
        width, height = item.lower().split('x')
        sizes.append((int(width), int(height)))
    return sizes


def main():
    """Time both paths for every device, model, frame size and hand count; print the tables."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    fixture_image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
    images = {}
    for width, height in frame_sizes(args.sizes):
        image = fixture_image
        if image.shape[:2] != (height, width):
            image = cv2.resize(fixture_image, (width, height), interpolation=cv2.INTER_LINEAR)
        images[f'{width}x{height}'] = image
    random_images = images if args.random_sizes == 'all' else {
        label: images.get(label) for label in (f'{w}x{h}' for w, h in
                                               frame_sizes(args.random_sizes))}
    if any(image is None for image in random_images.values()):
        sys.exit(f'--random-sizes {args.random_sizes} must be a subset of --sizes {args.sizes}')
    print(f'baseline: {BASELINE}')
    print(f'torch {torch.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}, '
          f'{torch.get_num_threads()} torch CPU threads, load average {_load_average()}; '
          f'detector {args.detector} (float32, shared by both paths); median ms per frame '
          f'of {args.repeats} frames after {args.warmup} warm-up frames per row '
          f'({args.random_repeats} after {args.random_warmup} for the random model)')
    headline, failures = [], []
    for device_name in args.devices.split(','):
        device = torch.device(device_name.strip())
        if device.type == 'cuda' and not torch.cuda.is_available():
            print('\ncuda: not available, skipped')
            continue
        precisions = ['fp32']
        if device.type == 'cuda':
            print(f'\ncuda device: {torch.cuda.get_device_name(device)}')
            precisions += [p.strip() for p in args.precisions.split(',') if p.strip()]
        for name, label, pipe in load_models(args, device):
            print(f'\n{device.type}, {name} model: {label}')
            fixture = name == 'fixture'
            setup = {'device': device, 'pipe': pipe, 'detector': pipe.detector,
                     'reconstructor': pipe.reconstructor, 'conf': args.conf, 'iou': args.iou,
                     'max_hands': args.max_hands, 'precisions': precisions,
                     'repeats': args.repeats if fixture else args.random_repeats,
                     'warmup': args.warmup if fixture else args.random_warmup,
                     # The staging check doubles our share of the run time: fixture only.
                     'end_to_end': fixture}
            summary, failed = bench_model(args, setup, images if fixture else random_images)
            failures += failed
            key = ('640x480', '2', 'fp32')
            if key in summary:
                total, own = summary[key]
                headline.append(f'speed-up vs official-demo-style path: {total:.1f}x '
                                f'({device.type.upper()}, 640x480, 2 hands) [{name} model: '
                                f'{label}; crops+post alone: {own:.1f}x]')
    print(f'\nload average at the end: {_load_average()}')
    print()
    for line in headline:
        print(line)
    if failures:
        sys.exit('outputs of the two paths differ: ' + '; '.join(failures))


if __name__ == '__main__':
    main()
