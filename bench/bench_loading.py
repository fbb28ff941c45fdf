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
Start-up time and resident memory of loading the reconstructor: ours against the official steps.

Writes a random full-size WiLoR checkpoint (ViT width ``--width`` 1280, depth ``--depth`` 32,
RefineNet, MANO from the test fixture; a Lightning-style ``{'state_dict': ...}`` archive, ~2.5
GB at the released size) to a temporary folder, then loads it in fresh processes, alternately:

* ours: :func:`wilor_ros.reconstructor.load_reconstructor` (modules built on the meta device
  without initialisation, checkpoint tensors assigned in place, freed heap returned to the OS);
* official-style steps (re-created from the official code's behaviour): the same modules built
  on the CPU with their default random initialisation, the checkpoint read with
  ``torch.load(weights_only=True)``, then ``load_state_dict`` copying every tensor.

Printed per side: the median load seconds, the resident memory after loading (VmRSS) and its
peak during loading (VmHWM), in MB, and the ratios official / ours.

Run: ``python bench/bench_loading.py [--width 1280] [--depth 32] [--repeats 2]``
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

import torch

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = REPO / 'test' / 'fixtures' / 'a' / 'wilor' / 'checkpoint.ckpt'

CHILD = r"""
import json, sys, time
import torch
path, side = sys.argv[1], sys.argv[2]


def memory():
    fields = dict(line.split(':', 1) for line in open('/proc/self/status'))
    return {key: int(fields[key].split()[0]) / 1024 for key in ('VmRSS', 'VmHWM')}


start = time.perf_counter()
if side == 'ours':
    from wilor_ros.reconstructor import load_reconstructor
    model = load_reconstructor(path)
else:
    from wilor_ros.models.checkpoint_io import load_checkpoint
    from wilor_ros.models.mano import mano_buffers_from_state_dict, MANOLayer
    from wilor_ros.models.refine_net import refine_dims_from_state_dict, RefineNet
    from wilor_ros.models.vit import vit_dims_from_state_dict, WiLoRViT
    from wilor_ros.reconstructor import WiLoR
    state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    model = WiLoR(WiLoRViT(**vit_dims_from_state_dict(state)),
                  RefineNet(**refine_dims_from_state_dict(state)),
                  MANOLayer(**mano_buffers_from_state_dict(state)))
    model.load_state_dict(state, strict=False)
    del state
    model.eval().requires_grad_(False)
seconds = time.perf_counter() - start
print(json.dumps(dict(seconds=seconds, **memory())))
"""


def write_checkpoint(path, width, depth):
    """Save a random WiLoR of the given size as a Lightning-style checkpoint."""
    sys.path.insert(0, str(REPO / 'bench'))
    from bench_reconstructor import random_wilor

    model = random_wilor(width, depth, FIXTURE)
    torch.save({'state_dict': model.state_dict()}, path)
    return sum(t.numel() for t in model.state_dict().values())


def measure(path, side):
    """Load in a fresh process; return its seconds, VmRSS and VmHWM (MB)."""
    done = subprocess.run([sys.executable, '-c', CHILD, str(path), side], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    """Write the checkpoint, load it alternately both ways, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--depth', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / 'random_wilor.ckpt'
        values = write_checkpoint(path, args.width, args.depth)
        print(f'random WiLoR checkpoint: ViT width {args.width}, depth {args.depth}, '
              f'{values / 1e6:.0f} M values, {path.stat().st_size / 2 ** 20:.0f} MB; '
              f'torch {torch.__version__}')
        runs = {'official-style': [], 'ours': []}
        for _ in range(args.repeats):
            for side in runs:
                runs[side].append(measure(path, side))
    summary = {side: {key: statistics.median(run[key] for run in results)
                      for key in ('seconds', 'VmRSS', 'VmHWM')}
               for side, results in runs.items()}
    for side, values in summary.items():
        print(f'{side:15} load {values["seconds"]:6.2f} s   resident after '
              f'{values["VmRSS"]:7.0f} MB   peak {values["VmHWM"]:7.0f} MB')
    ours, official = summary['ours'], summary['official-style']
    print(f'official / ours: load time x{official["seconds"] / ours["seconds"]:.2f}, '
          f'resident x{official["VmRSS"] / ours["VmRSS"]:.2f}, '
          f'peak x{official["VmHWM"] / ours["VmHWM"]:.2f}')


if __name__ == '__main__':
    main()
