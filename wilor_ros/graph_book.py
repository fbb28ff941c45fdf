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

from wilor_ros.compile_counters import CompileCounter


class GraphBook:
    """The graphs of one pipeline (see the module docstring); inert when not ``enabled``."""

    def __init__(self, enabled, detector_counter=None):
        """Start with nothing warmed up; ``detector_counter``: the detector's, if any."""
        self.enabled = bool(enabled)
        self.reconstructor_counter = CompileCounter('hand reconstructor')
        self.detector_counter = detector_counter
        self.misses = 0
        self.buckets, self.image_sizes = set(), set()
        self._compilations_at_warm_up = None
        self._warnings = []

    def compile_reconstructor(self, reconstructor, backend='inductor'):
        """Return ``reconstructor`` compiled with static shapes and counted."""
        return self.reconstructor_counter.wrap(torch.compile(
            reconstructor, backend=backend, dynamic=False, **compile_options(backend)))

    def warmed_up(self, image_hw, buckets):
        """Record a warm-up at ``image_hw`` covering the batch ``buckets``."""
        self.image_sizes.add(tuple(image_hw))
        self.buckets.update(buckets)
        self._compilations_at_warm_up = self._compilations()

    def needs_warm_up(self, image_hw):
        """Return True when frames of ``image_hw`` have no warmed-up graph yet."""
        return self.enabled and tuple(image_hw) not in self.image_sizes

    def check_image(self, image_hw):
        """Count a miss (once per size) for frames of a size not warmed up."""
        if self.enabled and self.image_sizes and tuple(image_hw) not in self.image_sizes:
            self.image_sizes.add(tuple(image_hw))
            self._miss(f'the image size {image_hw[1]}x{image_hw[0]}')

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
        self._warnings.append(f'{what} was not warmed up: compiling its graph now (once; later '
                              'batches reuse it)')


def compile_options(backend):
    """torch.compile's ``mode`` for a backend: CUDA graphs with inductor, none otherwise."""
    return {'mode': 'reduce-overhead'} if backend == 'inductor' else {}
