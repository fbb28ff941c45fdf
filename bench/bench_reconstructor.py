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
Per-stage timing of the WiLoR reconstructor: ViT, then RefineNet + the two MANO passes.

Times the median of ``--repeats`` calls (after warm-up) for batches of 1, 2 and 4 crops on the
CPU and, when available, on CUDA, for each requested precision. Printed per row: ViT ms,
refine+MANO ms, total ms, ms per crop, and the refine+MANO / ViT ratio; then, per device and
precision, the per-crop speed-up of batch 2 and 4 over batch 1, and for each lower precision
its speed-up over fp32 and its vertex deviation from fp32 (mean and max, mm) in the same run.

``bf16-percall`` is the former behaviour for comparison: float32 weights under bf16 autocast,
which re-casts every weight on every call (autocast caches only weights that require grad);
``bf16`` casts the Linear and convolution weights once. ``bf16-packed`` and ``bf16-all`` are
CPU experiments (see :func:`with_precision`).

The network is the checkpoint given with ``--checkpoint`` (default: the tiny parity fixture),
or, with ``--width``/``--depth``, a randomly initialised WiLoR of that size (``--width 1280
--depth 32`` is the released ViT-H; MANO then comes from the checkpoint).

Run: ``python bench/bench_reconstructor.py [--checkpoint PATH] [--width 1280 --depth 32]
[--precision fp32 bf16] [--repeats 10]``
"""

import argparse
import copy
import pathlib
import statistics
import time

import numpy as np
import torch
from torch import nn

from wilor_ros.models.checkpoint_io import load_checkpoint
from wilor_ros.models.mano import mano_buffers_from_state_dict, MANOLayer
from wilor_ros.models.refine_net import RefineNet
from wilor_ros.models.vit import WiLoRViT
from wilor_ros.reconstructor import load_reconstructor, WiLoR

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'a' / 'wilor'
BATCHES = (1, 2, 4)
WARM_UP = 3
PRECISIONS = ('fp32', 'tf32', 'fp16', 'bf16', 'bf16-percall', 'bf16-packed', 'bf16-all')
# ViT tokens of one crop (256x192 pixels in 16x16 patches): the row hint of oneDNN packing.
TOKENS = 192


class PackedLinear(nn.Module):
    """A bf16 Linear whose weight oneDNN reordered once for this CPU (no per-call reorder)."""

    def __init__(self, linear, rows):
        """Pack ``linear``'s weight for inputs of ``rows`` rows."""
        super().__init__()
        weight = linear.weight.detach().to(torch.bfloat16)
        self.out_features = weight.shape[0]
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
        self.bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)

    def forward(self, x):
        """Apply the layer to (..., in_features) in bf16."""
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        out = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.bias, 'none', [], '')
        return out.reshape(*x.shape[:-1], self.out_features)


def pack_linears(module, rows):
    """Replace every nn.Linear under ``module`` by a PackedLinear, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, PackedLinear(child, rows))
        else:
            pack_linears(child, rows)
    return module


def all_bf16(model):
    """Run ``model``'s ViT entirely in bf16 (norms and softmax too), outside autocast."""
    backbone = model.backbone.to(torch.bfloat16)
    forward = backbone.forward

    def bf16_forward(x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return forward(x.to(torch.bfloat16))

    backbone.forward = bf16_forward
    return model


def with_precision(model, precision, rows=TOKENS):
    """
    Copy the fp32 ``model`` into ``precision`` (weights cast once, or per call).

    Two CPU experiments besides the package's precisions (docs/speed.md; the package does
    neither): ``bf16-packed``, the ViT's Linear weights reordered by oneDNN once for inputs of
    ``rows`` rows, and ``bf16-all``, the whole ViT in bf16.
    """
    candidate = copy.deepcopy(model)
    if precision == 'bf16-percall':
        candidate._dtype = torch.bfloat16  # autocast over float32 weights
        return candidate
    if precision == 'bf16-packed':
        pack_linears(candidate.set_precision('bf16').backbone, rows)
        return candidate
    if precision == 'bf16-all':
        return all_bf16(candidate.set_precision('bf16'))
    return candidate.set_precision(precision)


def random_wilor(width, depth, checkpoint):
    """Build a WiLoR of the given ViT width/depth with random weights; MANO from a file."""
    state = load_checkpoint(checkpoint, kind='WiLoR checkpoint')['state_dict']
    backbone = WiLoRViT(embed_dim=width, depth=depth, num_heads=max(1, width // 80),
                        mlp_hidden_dim=4 * width)
    with torch.no_grad():
        for name in ('init_hand_pose', 'init_betas', 'init_cam'):
            getattr(backbone, name).copy_(state[f'backbone.{name}'])
    refine_net = RefineNet(feat_dim=width, first_dim=width // 2,
                           branch_widths=((width // 4,), (width // 4, width // 8)))
    model = WiLoR(backbone, refine_net, MANOLayer(**mano_buffers_from_state_dict(state)))
    return model.eval().requires_grad_(False)


def synchronise(device):
    """Wait for queued GPU work so wall-clock times are complete."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_stages(model, crops, repeats, warm_up=WARM_UP):
    """Median seconds of (ViT, refine+MANO) over ``repeats`` calls after warm-up calls."""
    vit_times, head_times = [], []
    with torch.inference_mode():
        for index in range(repeats + warm_up):
            synchronise(model.device)
            start = time.perf_counter()
            vit = model.run_backbone(crops)
            synchronise(model.device)
            middle = time.perf_counter()
            model.run_heads(vit)
            synchronise(model.device)
            end = time.perf_counter()
            if index >= warm_up:
                vit_times.append(middle - start)
                head_times.append(end - middle)
    return statistics.median(vit_times), statistics.median(head_times)


def main():
    """Parse options, time every device / precision / batch size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--checkpoint', type=pathlib.Path, default=FIXTURES / 'checkpoint.ckpt')
    parser.add_argument('--width', type=int, default=None, help='random model ViT width')
    parser.add_argument('--depth', type=int, default=None, help='random model ViT depth')
    parser.add_argument('--precision', nargs='+', default=['fp32', 'bf16-percall', 'bf16'],
                        choices=PRECISIONS)
    parser.add_argument('--batches', default='1,2,4', help='comma-separated batch sizes')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', choices=('all', 'cpu', 'cuda'), default='all',
                        help='all: the CPU, then CUDA when available')
    args = parser.parse_args()
    batches = tuple(int(b) for b in args.batches.split(','))
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.width:
        model = random_wilor(args.width, args.depth or 32, args.checkpoint)
        label = f'random ViT width {args.width}, depth {args.depth or 32}'
    else:
        model = load_reconstructor(args.checkpoint)
        label = str(args.checkpoint)
    images = torch.from_numpy(np.load(FIXTURES / 'crops.npz')['img'])
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    if args.device != 'all':
        devices = [args.device]
    print(f'model: {label}; ViT width {model.backbone.embed_dim}, '
          f'depth {len(model.backbone.blocks)}; torch {torch.__version__}, '
          f'{torch.get_num_threads()} CPU threads')
    print(f'{"device":6} {"prec":12} {"B":>2} {"ViT ms":>9} {"ref+MANO ms":>12} '
          f'{"total ms":>9} {"ms/crop":>8} {"ref/ViT":>8}')
    for device in devices:
        model.to(device)
        with torch.inference_mode():
            reference = model(images[torch.arange(max(batches)) % len(images)].to(device))
        candidates = {}
        for precision in args.precision:
            try:
                candidates[precision] = with_precision(model, precision,
                                                       TOKENS * max(batches))
            except RuntimeError as error:  # the oneDNN packing exists on the CPU only
                print(f'{device:6} {precision:12} unsupported: {error}')
        per_crop = {precision: {} for precision in candidates}
        for batch in batches:
            crops = images[torch.arange(batch) % len(images)].to(device)
            # Precisions take turns call by call, so that load changes on a shared machine
            # hit all of them alike; the first calls pay kernel selection and allocation.
            samples = {precision: ([], []) for precision in candidates}
            for index in range(WARM_UP + args.repeats):
                for precision, candidate in candidates.items():
                    try:
                        vit, heads = time_stages(candidate, crops, 1, warm_up=0)
                    except RuntimeError as error:
                        print(f'{device:6} {precision:12} {batch:>2} unsupported: {error}')
                        continue
                    if index >= WARM_UP:
                        samples[precision][0].append(vit)
                        samples[precision][1].append(heads)
            for precision, (vits, heads) in samples.items():
                if not vits:
                    continue
                vit, head = statistics.median(vits), statistics.median(heads)
                total = vit + head
                per_crop[precision][batch] = total / batch
                print(f'{device:6} {precision:12} {batch:>2} {1e3 * vit:9.2f} '
                      f'{1e3 * head:12.2f} {1e3 * total:9.2f} {1e3 * total / batch:8.2f} '
                      f'{head / vit:8.3f}')
        deviations = {}
        for precision, candidate in candidates.items():
            with torch.inference_mode():
                out = candidate(images[torch.arange(max(batches)) % len(images)].to(device))
            gap = (out['pred_vertices'] - reference['pred_vertices']).abs()
            deviations[precision] = (1e3 * float(gap.mean()), 1e3 * float(gap.max()))
        for precision, crops_ms in per_crop.items():
            if 1 in crops_ms and len(crops_ms) > 1:
                speedups = ', '.join(f'B={b}: x{crops_ms[1] / crops_ms[b]:.2f}'
                                     for b in batches[1:] if b in crops_ms)
                print(f'{device:6} {precision:12} per-crop speed-up over B=1: {speedups}')
        base = per_crop.get('fp32', {})
        for precision, crops_ms in per_crop.items():
            if precision == 'fp32' or not base:
                continue
            ratios = ', '.join(f'B={b}: x{base[b] / crops_ms[b]:.2f}'
                               for b in crops_ms if b in base)
            mean_mm, max_mm = deviations[precision]
            print(f'{device:6} {precision:12} vs fp32: speed-up {ratios}; vertices '
                  f'mean |d| {mean_mm:.3f} mm, max |d| {max_mm:.3f} mm')


if __name__ == '__main__':
    main()
