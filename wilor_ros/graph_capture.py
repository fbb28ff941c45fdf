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
CUDA graphs captured from the eager networks: ``graph_mode: capture``, seconds instead of minutes.

``torch.compile(mode='reduce-overhead')`` generates and compiles kernels (inductor) before it
records its CUDA graphs: about 30 s per static bucket for ViT-H on an H200, so a node with
``max_hands: 10`` spends minutes at its first start. Here the networks' eager kernels are
recorded as they are (``torch.cuda.CUDAGraph``): the inference path is already free of host
reads and transfers (``test/test_pipeline_transfers.py``) and has static shapes per bucket, so
capturing it is legal, and a capture costs a couple of forward passes. The replay removes the
launch overhead that makes the eager path slow on a large GPU (about 1,200 launches of ~22 us
for a 2-hand frame); the kernels themselves are the eager ones (no fusion), which is what
``compile`` adds on top.

:class:`CapturedGraphs` keeps one graph per input signature (shapes, dtypes and the
non-tensor arguments): the reconstructor's buckets and the detector's (frames, letterbox)
sizes. A call copies its tensors into the graph's static inputs, replays, and returns the
graph's static outputs, which the next replay of the same graph overwrites: the pipeline
reads them (the detector's table is cloned, the reconstructor's outputs packed) in stream
order before that. Each graph has its own memory pool, so graphs may replay in any order and
on the detector's side stream (:mod:`wilor_ros.streams`). Captures are counted like
compilations (:class:`~wilor_ros.graph_book.GraphBook`): a capture after warm-up is a graph
miss in ``/diagnostics``, never silent.
"""

import torch

# The warm-up runs before a capture: lazy initialisation (cuBLAS workspaces, cuDNN
# autotuning) must happen outside the graph, as PyTorch's CUDA graph notes require.
WARM_UP_RUNS = 2


class CudaGraphs:
    """How a graph is recorded and replayed: ``torch.cuda``'s own (tests substitute theirs)."""

    @staticmethod
    def record(function, inputs):
        """Warm up on a side stream, capture ``function(*inputs)``; return (graph, outputs)."""
        # On the inputs' device, which need not be the current one (device: cuda:1): streams
        # of another device would neither run the warm-up nor capture a kernel (an empty graph
        # whose replays leave the capture's outputs as they are). The capture gets this
        # stream too: torch.cuda.graph's own is made once, on the device current at the time.
        device = next(a.device for a in inputs if isinstance(a, torch.Tensor))
        with torch.cuda.device(device):
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(WARM_UP_RUNS):
                    function(*inputs)
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            # thread_local: another thread of the node (the retargeting worker, the executor)
            # may touch CUDA meanwhile without invalidating this capture.
            with torch.cuda.graph(graph, stream=side, capture_error_mode='thread_local'):
                outputs = function(*inputs)
        return graph, outputs

    @staticmethod
    def replay(graph):
        """Replay ``graph`` on the current stream."""
        graph.replay()


class CapturedGraphs:
    """
    ``function`` replayed from CUDA graphs, one per input signature (see the module docstring).

    Counted as :class:`~wilor_ros.compile_counters.CompileCounter` counts compilations, with
    the same attributes, so the :class:`~wilor_ros.graph_book.GraphBook` reports either:
    ``compilations`` (captures), ``recompilations`` and ``recompile_limit_hits`` (always 0:
    captures have no guards and no limit).
    """

    def __init__(self, name, function, backend=CudaGraphs):
        """Keep ``function``; nothing is captured before its first call per signature."""
        self.name = name
        self.function = function
        self.backend = backend
        self.compilations = 0
        self.recompilations = 0
        self.recompile_limit_hits = 0
        self._graphs = {}

    @torch.inference_mode()
    def __call__(self, *args):
        """
        Copy the tensors of ``args`` into the graph of their signature, replay, return.

        Always in inference mode, so the static buffers (inference tensors) can be written
        whatever mode the caller is in; the outputs are read-only to callers.
        """
        key = tuple((tuple(a.shape), a.dtype, a.device) if isinstance(a, torch.Tensor) else a
                    for a in args)
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._graphs[key] = self._capture(args)
        graph, inputs, outputs = entry
        for static, value in zip(inputs, args):
            if isinstance(static, torch.Tensor):
                static.copy_(value)
        self.backend.replay(graph)
        return outputs

    def _capture(self, args):
        # Static inputs: copies the graph reads from at every replay.
        inputs = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
        graph, outputs = self.backend.record(self.function, inputs)
        self.compilations += 1
        return graph, inputs, outputs

    def limit_warning(self):
        """Return None: captures have no recompile limit (the GraphBook asks every counter)."""
        return None

    def as_dict(self):
        """Return the counts as a dict (for diagnostics)."""
        return {'compilations': self.compilations, 'recompilations': 0,
                'recompile_limit_hits': 0, 'graphs': len(self._graphs)}
