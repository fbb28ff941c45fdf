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
Host <-> device copies, one owner: how data goes up and comes down without stalling the GPU.

A plain ``tensor.to('cuda')`` of pageable host memory waits until the GPU has finished all
queued work (a blocking synchronisation). :func:`upload` stages through pinned memory and
copies asynchronously instead: the host returns at once and the GPU copies in stream order.
PyTorch's caching host allocator keeps each pinned block until the copy that reads it has
finished, so staging buffers are reused safely and allocated only during warm-up. Results come
down with :func:`to_host`, one blocking copy per batch, by design the only waits of a frame.
"""

import warnings

import numpy as np
import torch


def upload(array, device):
    """
    Return ``array`` (numpy or CPU tensor) on ``device``: one asynchronous copy on CUDA.

    On the CPU the tensor is shared with the array where possible (no copy).
    """
    if isinstance(array, torch.Tensor):
        tensor = array
    else:
        with warnings.catch_warnings():
            # Frames from ROS messages are read-only views of the message bytes (zero-copy);
            # torch warns about that, but they are only ever read.
            warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
            tensor = torch.from_numpy(np.ascontiguousarray(array))
    device = torch.device(device)
    if device.type != 'cuda' or tensor.device.type != 'cpu':
        return tensor.to(device)
    staging = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    staging.copy_(tensor)
    return staging.to(device, non_blocking=True)


def host_array(value, dtype=None):
    """Return ``value`` (numpy, list, or a tensor on any device) as a numpy array on the host."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.device.type != 'cpu':
            value = value.cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        value = value.numpy()
    return np.asarray(value, dtype=dtype)


def to_host(tensor):
    """Bring a tensor down to a numpy array (one blocking copy when it lives on a GPU)."""
    return host_array(tensor)
