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
A second CUDA stream for the detector, so that it can run while the reconstructor runs.

:meth:`wilor_ros.pipeline.HandPipeline.process_stream` uploads and detects batch t+1 on
:class:`DetectionStream` while batch t's reconstructor runs on the current stream. The tables
come down with an asynchronous copy into pinned memory and an event; the current stream waits
for that event before it reads batch t+1's frames (the crops), and the frames are marked as used
by it so the caching allocator cannot hand their memory out early. Without CUDA (the CPU, the
tests' simulated GPU) every call runs in order on the one stream, with the same results.
"""

import contextlib

import torch


class DetectionStream:
    """
    The detector's side stream on ``device``; ``stream`` None: everything in order on one.

    ``enabled`` False keeps one stream: the pipeline passes it for ``compile``, whose CUDA
    graphs (inductor's cudagraph trees) share one memory pool that they reuse in the order of
    one stream; a replay on a second stream could overwrite the outputs of the other network
    before they are read. The detector is then still queued ahead of the wait, not run
    concurrently.
    """

    def __init__(self, device, enabled=True):
        device = torch.device(device)
        usable = enabled and device.type == 'cuda' and torch.cuda.is_available()
        self.stream = torch.cuda.Stream(device) if usable else None
        if self.stream is not None:
            # Work queued before the stream began (weights, cached constants) comes first.
            self.stream.wait_stream(torch.cuda.current_stream(device))

    def running(self, images=()):
        """
        Return a context in which queued work goes to the side stream.

        ``images``: the batch's frames as given. A frame already on a GPU was written by work
        queued on the current stream (its upload, a conversion): the side stream waits for
        that work before it reads the frame, at the price of the overlap with what the
        current stream has queued so far. Host frames are uploaded on the side stream itself.
        """
        if self.stream is None:
            return contextlib.nullcontext()
        if any(isinstance(image, torch.Tensor) and image.is_cuda for image in images):
            self.stream.wait_stream(torch.cuda.current_stream(self.stream.device))
        return torch.cuda.stream(self.stream)

    def table_to_host(self, table):
        """
        Start copying ``table`` down; return (pinned host tensor, event) or (table, None).

        Queue this inside :meth:`running`; the event completes when the copy has.
        """
        if self.stream is None:
            return table, None
        host = torch.empty(table.shape, dtype=table.dtype, pin_memory=True)
        host.copy_(table, non_blocking=True)
        event = torch.cuda.Event()
        event.record(self.stream)
        return host, event

    @staticmethod
    def hand_over(event, frames):
        """Make the current stream wait for ``event`` before it reads ``frames``."""
        if event is None:
            return
        current = torch.cuda.current_stream(frames[0].device)
        current.wait_event(event)
        for frame in frames:
            frame.record_stream(current)
