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
:class:`PipelineOptions`: every choice that shapes a pipeline, in one value.

The node builds it from its parameters, ``wilor-infer`` from its arguments, the benchmarks
and tests directly; :func:`wilor_ros.loading.load_pipeline` is its one reader. Validation
lives here, so a bad value is refused the same way wherever it comes from.
"""

import dataclasses
import math
from typing import Optional, Tuple

from wilor_ros.backends import BACKENDS
from wilor_ros.precision import PRECISIONS

DEFAULT_MAX_HANDS = 10
# How ``compile`` makes its graphs: torch.compile (inductor kernels, then CUDA graphs; minutes
# at a first start, persisted) or CUDA graphs captured from the eager networks (seconds).
GRAPH_MODES = ('compile', 'capture')


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """
    How to build and run a :class:`~wilor_ros.pipeline.HandPipeline`.

    ``device``: auto, cpu, cuda or cuda:N; ``precision``: auto (bf16 on CUDA, fp32 on the CPU),
    fp32, tf32, fp16 or bf16 for the reconstructor's layers; ``compile``: static batch
    buckets and graphs, made by ``graph_mode`` (:data:`GRAPH_MODES`): ``torch.compile`` (CUDA
    graphs on a GPU) or CUDA graphs captured from the eager networks
    (:mod:`wilor_ros.graph_capture`, CUDA only); ``conf`` / ``iou``: detector
    confidence and NMS thresholds; ``rescale_factor``: crop side relative to the box (WiLoR:
    2.0); ``max_hands``: hands per frame at most, highest scores first; ``warm_up``: run every
    stage once before the first frame, at ``warm_up_image_hw`` (the camera's size; default
    480x640); ``backend``: who runs the networks, torch, onnxruntime or tensorrt
    (:mod:`wilor_ros.backends`). ``conf``, ``iou``, ``rescale_factor`` and ``max_hands``
    may also change later through :meth:`HandPipeline.configure`.
    """

    device: str = 'auto'
    precision: str = 'auto'
    compile: bool = False  # noqa: A003 (the node parameter's name)
    conf: float = 0.3
    iou: float = 0.7
    rescale_factor: float = 2.0
    max_hands: int = DEFAULT_MAX_HANDS
    warm_up: bool = False
    warm_up_image_hw: Optional[Tuple[int, int]] = None
    backend: str = 'torch'
    graph_mode: str = 'compile'

    def __post_init__(self):
        """Refuse values no pipeline can run with (ValueError naming the option)."""
        if self.precision not in PRECISIONS:
            raise ValueError(f'unknown precision {self.precision!r}: expected one of '
                             f'{", ".join(PRECISIONS)}')
        if self.backend not in BACKENDS:
            raise ValueError(f'unknown backend {self.backend!r}: expected one of '
                             f'{", ".join(BACKENDS)}')
        if self.compile and self.backend != 'torch':
            raise ValueError(f'compile is for backend torch; backend {self.backend} runs '
                             'networks compiled by its own runtime')
        if self.graph_mode not in GRAPH_MODES:
            raise ValueError(f'unknown graph_mode {self.graph_mode!r}: expected one of '
                             f'{", ".join(GRAPH_MODES)}')
        check_thresholds(self.conf, self.iou, self.rescale_factor, self.max_hands)
        if self.warm_up_image_hw is not None:
            height, width = (int(v) for v in self.warm_up_image_hw)
            if height < 1 or width < 1:
                raise ValueError(f'warm_up_image_hw must be positive, got '
                                 f'{self.warm_up_image_hw}')

    def replace(self, **changes):
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def check_thresholds(conf, iou, rescale_factor, max_hands):
    """Raise ValueError when a detection or crop setting is out of its range."""
    for name, value in (('conf', conf), ('iou', iou)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f'{name} must lie in [0, 1], got {value}')
    if not (math.isfinite(float(rescale_factor)) and float(rescale_factor) > 0):
        raise ValueError(f'rescale_factor must be positive, got {rescale_factor}')
    if int(max_hands) < 1:
        raise ValueError(f'max_hands must be at least 1, got {max_hands}')
