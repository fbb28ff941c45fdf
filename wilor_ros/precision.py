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
Compute precisions, one owner: names, what ``auto`` means, the detector's dtype, backend flags.

* ``fp32``: IEEE float32 everywhere. On CUDA this needs :func:`configure_backends`: cuDNN runs
  "float32" convolutions in TF32 (10-bit mantissa) by default, which would move the outputs
  past the fp32 parity bounds.
* ``tf32``: float32 weights and activations, matrix products and convolutions on TF32 tensor
  cores (Ampere and later GPUs); on the CPU the same as fp32.
* ``bf16`` / ``fp16``: the reconstructor's Linear and convolution weights are cast once (at
  load time) and run under autocast; LayerNorm, BatchNorm, the 6-D rotation decoding and MANO
  stay float32.
* ``auto``: bf16 on CUDA (ViT-H on tensor cores), fp32 on the CPU.

The detector runs in fp16 (what ultralytics runs with ``half=True``) for fp16 and bf16, else
in fp32; never in bf16 (:func:`detector_dtype`).
"""

import torch

PRECISIONS = ('auto', 'fp32', 'tf32', 'fp16', 'bf16')

_DTYPES = {
    'fp32': torch.float32, 'float32': torch.float32, torch.float32: torch.float32,
    'tf32': torch.float32,
    'fp16': torch.float16, 'float16': torch.float16, torch.float16: torch.float16,
    'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16, torch.bfloat16: torch.bfloat16,
}

_ALIASES = {'float32': 'fp32', 'float16': 'fp16', 'bfloat16': 'bf16', torch.float32: 'fp32',
            torch.float16: 'fp16', torch.bfloat16: 'bf16'}


def resolve_precision(precision, device):
    """Return the concrete precision name for ``precision`` on ``device`` (``auto`` resolved)."""
    precision = _ALIASES.get(precision, precision)
    if precision == 'auto':
        return 'bf16' if torch.device(device).type == 'cuda' else 'fp32'
    if precision not in PRECISIONS:
        raise ValueError(f'unknown precision {precision!r}: expected one of '
                         f'{", ".join(PRECISIONS)}')
    return precision


def compute_dtype(precision):
    """Map 'fp32' / 'tf32' / 'fp16' / 'bf16' (or a torch dtype) to the layers' dtype."""
    try:
        return _DTYPES[precision]
    except (KeyError, TypeError):
        raise ValueError(f'unsupported precision {precision!r}, expected fp32, tf32, fp16 or '
                         'bf16') from None


def detector_dtype(precision):
    """
    Return the detector's dtype for a pipeline precision: fp32, or fp16 for fp16 and bf16.

    ultralytics runs the YOLOv8 detector in fp16 (``half=True``) or fp32; bf16's 8-bit mantissa
    moves boxes past the NMS threshold, so the detector never runs in bf16.
    """
    return torch.float16 if precision in ('fp16', 'bf16') else torch.float32


def configure_backends(precision):
    """
    Set the process-wide TF32 switches for ``precision`` (after ``auto`` is resolved).

    TF32 is on only for ``tf32``; every other precision gets IEEE float32 wherever float32
    runs (cuDNN's default would be TF32 convolutions). These flags are process-global: the last
    pipeline loaded decides them for every model in the process. Called by
    :func:`wilor_ros.loading.load_pipeline`, the one place that sets them.
    """
    tf32 = precision == 'tf32'
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision('high' if tf32 else 'highest')
