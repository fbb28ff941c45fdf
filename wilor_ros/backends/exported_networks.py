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
The two backend protocols over exported networks, whoever runs them (ONNX Runtime, TensorRT).

A *runner* is a callable taking {input name: tensor on the device} and returning {output name:
tensor on the device}, without waiting for the device. :class:`ExportedDetector` is the torch
:class:`~wilor_ros.detector.HandDetector` with its capturable core
(:meth:`~wilor_ros.detector.HandDetector.forward_fixed`) replaced by a runner per letterbox
size and table size, so the letterbox, the batching by image size and the mapping back to the
image are the torch backend's own code; :class:`ExportedReconstructor` turns a runner into a
:class:`~wilor_ros.backend.HandReconstructorBackend`, in chunks of at most ``max_batch`` crops.
"""

import numpy as np
import torch

from wilor_ros.backend import RECONSTRUCTION_KEYS
from wilor_ros.detector import HandDetector


class ExportedDetector(HandDetector):
    """
    A :class:`HandDetector` whose network, decoding and NMS run in an exported graph.

    ``detector``: the torch detector on the CPU in fp32 (its settings, and the network that
    later letterbox sizes are exported from); ``device``: where frames, letterboxes and
    tables live; ``runner_for(input_hw, table_size)``: returns the runner of the detector core
    for that input (made once per size, e.g. exported and built on first use); ``max_batch``:
    frames per runner call at most.
    """

    def __init__(self, detector, device, runner_for, max_batch=None):
        super().__init__(detector.network, imgsz=detector.imgsz,
                         class_names=detector.class_names, device='cpu',
                         dtype=torch.float32, stride=detector.stride,
                         table_size=detector.table_size)
        # The torch network stays on the CPU (exports are made from it); frames, letterboxes
        # and thresholds go to the backend's device.
        self.device = torch.device(device)
        self._runner_for = runner_for
        self._runners = {}
        self.max_batch = max_batch

    def compile(self, mode=None, backend=None):  # noqa: A003 (as HandDetector)
        """Do nothing: the exported graph is compiled by its runtime already."""
        return self

    def forward_fixed(self, input_tensor, conf, iou, max_det, table_size=None):
        """Run the exported core on a letterboxed (N, 3, H, W) batch: (rows, valid)."""
        table_size = self.table_size if table_size is None else int(table_size)
        key = (tuple(input_tensor.shape[2:]), table_size)
        if key not in self._runners:
            self._runners[key] = self._runner_for(*key)
        runner = self._runners[key]
        images = input_tensor.to(device=self.device, dtype=torch.float32).contiguous()
        thresholds = {
            'conf': torch.as_tensor(conf, dtype=torch.float32, device=self.device),
            'iou': torch.as_tensor(iou, dtype=torch.float32, device=self.device),
            'max_det': torch.as_tensor(max_det, dtype=torch.int64, device=self.device)}
        step = self.max_batch or max(1, len(images))
        parts = [runner(dict(thresholds, images=images[start:start + step]))
                 for start in range(0, len(images), step)]
        if len(parts) == 1:
            return parts[0]['rows'], parts[0]['valid']
        return (torch.cat([part['rows'] for part in parts]),
                torch.cat([part['valid'] for part in parts]))


class ExportedReconstructor:
    """
    A :class:`~wilor_ros.backend.HandReconstructorBackend` over an exported WiLoR.

    ``runner``: {'crops': (B, 3, S, S) float32} -> the :data:`RECONSTRUCTION_KEYS` tensors;
    ``crop_size``, ``focal_length``, ``faces``: as the torch model's (stored with the export);
    ``max_batch``: crops per runner call at most (a TensorRT profile's limit).
    """

    def __init__(self, runner, device, crop_size, focal_length, faces, max_batch=None):
        self.runner = runner
        self.device = torch.device(device)
        self.crop_size = int(crop_size)
        self.focal_length = float(focal_length)
        self.faces = np.asarray(faces, dtype=np.int64)
        self.max_batch = max_batch

    def __call__(self, crops):
        """Reconstruct a batch of crops: :data:`RECONSTRUCTION_KEYS` tensors on the device."""
        crops = torch.as_tensor(crops, dtype=torch.float32, device=self.device).contiguous()
        if crops.ndim != 4 or crops.shape[1:] != (3, self.crop_size, self.crop_size):
            raise ValueError(f'expected crops of shape (B, 3, {self.crop_size}, '
                             f'{self.crop_size}), got {tuple(crops.shape)}')
        step = self.max_batch or max(1, len(crops))
        parts = [self.runner({'crops': crops[start:start + step]})
                 for start in range(0, len(crops), step)]
        if len(parts) == 1:
            return {key: parts[0][key] for key in RECONSTRUCTION_KEYS}
        return {key: torch.cat([part[key] for part in parts]) for key in RECONSTRUCTION_KEYS}
