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
CPU bf16 at the released width: fp32, bf16 as shipped, with oneDNN-prepacked Linears, all-bf16 ViT.

Kept for the record (docs/speed.md): prepacking the Linear weights for oneDNN (what
torch.compile's CPU freezing does) and an all-bf16 ViT were expected to lift bf16 towards 3x
fp32 on CPUs with AMX; on the H200 host's Xeon (AMX) prepacking was slower than bf16 as shipped
and the all-bf16 ViT gained little for twice the deviation, so the package does neither.

Precisions take turns call by call in one run (a shared machine's load hits all alike). Prints
per-crop ms, the speed-up over fp32 and the vertex deviation from fp32 (mean / max, mm).

Run: ``python bench/bench_bf16_cpu.py [--width 1280 --depth 32] [--batch 1] [--repeats 5]``
"""

import argparse
import copy
import statistics
import time

from bench_reconstructor import FIXTURES, random_wilor
import numpy as np
import torch
from torch import nn


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


def main():
    """Time the four variants side by side and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--depth', type=int, default=32)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = random_wilor(args.width, args.depth, FIXTURES / 'checkpoint.ckpt')
    crops = torch.from_numpy(np.load(FIXTURES / 'crops.npz')['img'])
    crops = crops[torch.arange(args.batch) % len(crops)]
    candidates = {'fp32': model, 'bf16': copy.deepcopy(model).set_precision('bf16')}
    packed = copy.deepcopy(model).set_precision('bf16')
    pack_linears(packed.backbone, rows=args.batch * 192)
    candidates['bf16-packed'] = packed
    candidates['bf16-all'] = all_bf16(copy.deepcopy(model).set_precision('bf16'))
    times = {name: [] for name in candidates}
    outputs = {}
    with torch.inference_mode():
        for index in range(2 + args.repeats):
            for name, candidate in candidates.items():
                start = time.perf_counter()
                outputs[name] = candidate(crops)['pred_vertices'].float()
                if index >= 2:
                    times[name].append(time.perf_counter() - start)
    base = statistics.median(times['fp32'])
    print(f'width {args.width} depth {args.depth} batch {args.batch}, torch '
          f'{torch.__version__}, {torch.get_num_threads()} threads')
    for name, samples in times.items():
        median = statistics.median(samples)
        gap = (outputs[name] - outputs['fp32']).abs()
        print(f'{name:12} {1e3 * median / args.batch:8.1f} ms/crop  x{base / median:.2f}  '
              f'vertices mean {1e3 * float(gap.mean()):.3f} mm max {1e3 * float(gap.max()):.3f}'
              ' mm')


if __name__ == '__main__':
    main()
