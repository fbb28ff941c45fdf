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
What ``torch.compile`` did for a pipeline: the warmed-up graphs, misses, and the counts.

With ``compile=True`` every static batch bucket of the reconstructor and every image size of
the detector is a graph of its own; warming up compiles (and on a GPU captures) them before
the first frame. A batch that needs a graph that was not warmed up is a *graph miss*: it
compiles while a frame waits. :class:`GraphBook` remembers what was warmed up, counts the
misses and the compilations after warm-up (Dynamo's own counts, through
:class:`~wilor_ros.compile_counters.CompileCounter`), and describes each miss once, so the node
can log it once and show the counts in ``/diagnostics``: nothing about the graphs is silent.
"""

import torch

from wilor_ros.compile_counters import CompileCounter, recompile_limit_name

# Graphs Dynamo may keep per compiled function before it gives up and runs eagerly (its
# default is 8): the reconstructor's buckets and the detector's image sizes x frame counts of a
# multi-camera node need more. Raised, never lowered, when a pipeline compiles.
RECOMPILE_LIMIT = 64


class GraphBook:
    """The graphs of one pipeline (see the module docstring); inert when not ``enabled``."""

    def __init__(self, enabled, detector_counter=None):
        """Start with nothing warmed up; ``detector_counter``: the detector's, if any."""
        self.enabled = bool(enabled)
        self.reconstructor_counter = CompileCounter('hand reconstructor')
        if self.enabled:
            config, name = torch._dynamo.config, recompile_limit_name()
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
        self.detector_counter = detector_counter
        self.misses = 0
        self.buckets = set()
        self.image_sizes = {}  # (height, width) -> frames per batch warmed up to
        self._compilations_at_warm_up = None
        self._warnings = []

    def compile_reconstructor(self, reconstructor, backend='inductor'):
        """Return ``reconstructor`` compiled with static shapes and counted."""
        return self.reconstructor_counter.wrap(torch.compile(
            reconstructor, backend=backend, dynamic=False, **compile_options(backend)))

    def capture_reconstructor(self, reconstructor, backend=None):
        """Return ``reconstructor`` replayed from captured CUDA graphs, counted (``capture``)."""
        from wilor_ros.graph_capture import CapturedGraphs, CudaGraphs

        self.reconstructor_counter = CapturedGraphs('hand reconstructor', reconstructor,
                                                    backend or CudaGraphs)
        return self.reconstructor_counter

    def warmed_up(self, image_hw, buckets, frames=1):
        """Record a warm-up at ``image_hw`` for 1 to ``frames`` frames and these buckets."""
        image_hw = tuple(image_hw)
        self.image_sizes[image_hw] = max(frames, self.image_sizes.get(image_hw, 0))
        self.buckets.update(buckets)
        self._compilations_at_warm_up = self._compilations()

    def needs_warm_up(self, image_hw, frames=1):
        """Return True when batches of ``frames`` frames of ``image_hw`` have no graph yet."""
        return self.enabled and self.image_sizes.get(tuple(image_hw), 0) < frames

    def check_image(self, image_hw, frames=1):
        """Count a miss (once each) for a size or a frame count that was not warmed up."""
        image_hw = tuple(image_hw)
        if not (self.enabled and self.image_sizes) or self.image_sizes.get(image_hw, 0) >= frames:
            return
        known = image_hw in self.image_sizes
        self.image_sizes[image_hw] = frames
        self._miss(f'a batch of {frames} frames of {image_hw[1]}x{image_hw[0]}' if known
                   else f'the image size {image_hw[1]}x{image_hw[0]}')

    def table_grown(self, rows):
        """
        Count a miss for a detector table grown to ``rows`` (``max_hands`` above its size).

        The detector's graphs have the table's shape: every warmed-up image size needs new
        ones, made by the next :meth:`~wilor_ros.pipeline.HandPipeline.prepare_for` (the node
        calls it before each batch) or by the batch itself.
        """
        if self.enabled and self.image_sizes:
            self.image_sizes = {}
            self._miss(f'a detector table of {rows} rows (max_hands above the table)')

    def check_bucket(self, size):
        """Count a miss (once per bucket) for a reconstructor batch not warmed up."""
        if self.enabled and self.buckets and size not in self.buckets:
            self.buckets.add(size)
            self._miss(f'a reconstructor batch of {size} crops')

    def report(self):
        """
        Return the counts for diagnostics (all zero without compiling).

        ``compilations`` / ``recompilations`` / ``recompile_limit_hits``: both networks;
        ``compilations_after_warm_up``: since the last warm-up (0 while all goes well);
        ``graph_misses``: batches that needed a graph that was not warmed up.
        """
        total = self._compilations()
        counters = self._counters()
        return {'compilations': total,
                'recompilations': sum(c.recompilations for c in counters),
                'recompile_limit_hits': sum(c.recompile_limit_hits for c in counters),
                'compilations_after_warm_up': (0 if self._compilations_at_warm_up is None
                                               else total - self._compilations_at_warm_up),
                'graph_misses': self.misses}

    def take_warnings(self):
        """Return the warnings not yet taken: each miss and each recompile-limit hit, once."""
        warnings = self._warnings + [text for text in (c.limit_warning()
                                                       for c in self._counters()) if text]
        self._warnings = []
        return warnings

    def _counters(self):
        return [c for c in (self.detector_counter, self.reconstructor_counter) if c is not None]

    def _compilations(self):
        return sum(c.compilations for c in self._counters())

    def _miss(self, what):
        self.misses += 1
        self._warnings.append(f'{what} was not warmed up: making its graph now (once; later '
                              'batches reuse it)')


def compile_options(backend):
    """torch.compile's ``mode`` for a backend: CUDA graphs with inductor, none otherwise."""
    return {'mode': 'reduce-overhead'} if backend == 'inductor' else {}
