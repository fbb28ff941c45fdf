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
The two networks as ONNX graphs: what is exported, how, and how far the export is from torch.

The detector core is :meth:`~wilor_ros.detector.HandDetector.forward_fixed` for one letterbox
size and table size: letterboxed RGB /255 batch (N, 3, H, W) float32 and the 0-d thresholds
``conf``, ``iou`` (float32) and ``max_det`` (int64) -> ``rows`` (N, T, 6 + K*3) and ``valid``
(N, T) bool: network, decoding and fixed-size NMS, all in the graph (the letterbox and the
mapping back to the image stay in torch, shared with the torch backend). The reconstructor is
:class:`~wilor_ros.reconstructor.WiLoR` (ViT, RefineNet, MANO): ``crops`` (B, 3, 256, 256) ->
the :data:`~wilor_ros.backend.RECONSTRUCTION_KEYS` outputs. Both have a dynamic batch axis, so
one file serves every batch (checked at several sizes by the tests).

Exports are fp32 with ``torch.onnx.export(dynamo=True)`` at opset 20: exporting in fp16 gives
an invalid graph (the ONNX optimiser folds a float32 BatchNorm into an fp16 ConvTranspose), so
the precision is chosen when a TensorRT engine is built. Weights go to an external data file,
since the full reconstructor (2.4 GB) exceeds protobuf's 2 GB.
"""

import time

import numpy as np
import torch
from torch import nn

from wilor_ros.backend import RECONSTRUCTION_KEYS
from wilor_ros.backends import import_optional

OPSET = 20
DETECTOR_INPUTS = ('images', 'conf', 'iou', 'max_det')
DETECTOR_OUTPUTS = ('rows', 'valid')
RECONSTRUCTOR_INPUTS = ('crops',)
RECONSTRUCTOR_OUTPUTS = tuple(RECONSTRUCTION_KEYS)
# The batch axis range of the exported graphs (frames for the detector, crops for the
# reconstructor); the example batch is 2, since torch.export specialises a size of 1.
MAX_BATCH = 256
_EXAMPLE_BATCH = 2
# Metadata entry of an exported file holding its cache key (checked when a session opens it).
KEY_METADATA = 'wilor_ros.cache_key'


class DetectorCore(nn.Module):
    """The detector's capturable core for one table size, as an exportable module."""

    def __init__(self, detector, table_size):
        super().__init__()
        self.detector = detector
        self.network = detector.network     # registered, so the export sees its weights
        self.table_size = int(table_size)

    def forward(self, images, conf, iou, max_det):
        """Return (rows, valid) of :meth:`HandDetector.forward_fixed`."""
        return self.detector.forward_fixed(images, conf, iou, max_det, self.table_size)


class ReconstructorCore(nn.Module):
    """The reconstructor with its outputs as a tuple in :data:`RECONSTRUCTOR_OUTPUTS` order."""

    def __init__(self, reconstructor):
        super().__init__()
        self.reconstructor = reconstructor

    def forward(self, crops):
        """Return the reconstruction of ``crops`` as a tuple."""
        outputs = self.reconstructor(crops)
        return tuple(outputs[key] for key in RECONSTRUCTOR_OUTPUTS)


def detector_example(input_hw, batch=_EXAMPLE_BATCH, conf=0.25, iou=0.7, max_det=None,
                     table_size=16, seed=0):
    """Return example detector inputs: a random letterboxed batch and the thresholds."""
    # Smooth random images (8 x 8 noise, upsampled): pixel noise saturates a detector's
    # scores, so ties would decide the NMS order and the comparison would say nothing.
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand((batch, 3, 8, 8), generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=tuple(input_hw), mode='bilinear',
                                             align_corners=False)
    max_det = table_size if max_det is None else max_det
    return (images, torch.tensor(conf, dtype=torch.float32),
            torch.tensor(iou, dtype=torch.float32), torch.tensor(max_det, dtype=torch.int64))


def reconstructor_example(crop_size, batch=_EXAMPLE_BATCH, seed=0):
    """Return example crops: normalised-image-like noise (B, 3, S, S)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn((batch, 3, crop_size, crop_size), generator=generator),)


def export_onnx(module, inputs, input_names, output_names, path, metadata=None):
    """
    Export ``module`` at fp32 with a dynamic batch axis on the first input to ``path``.

    Weights go to ``path`` + '.data'; ``metadata`` (str -> str) is stored in the model.
    Returns the seconds it took.
    """
    import_optional('onnx')
    import_optional('onnxscript')
    start = time.perf_counter()
    batch = torch.export.Dim('batch', min=1, max=MAX_BATCH)
    shapes = ({0: batch},) + (None,) * (len(inputs) - 1)
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(module.eval(), tuple(inputs), dynamo=True,
                                    opset_version=OPSET, input_names=list(input_names),
                                    output_names=list(output_names), dynamic_shapes=shapes,
                                    verbose=False, report=False)
    for name, value in (metadata or {}).items():
        program.model.metadata_props[name] = str(value)
    program.save(str(path), external_data=True)
    return time.perf_counter() - start


def run_onnx_on_cpu(path, inputs, input_names):
    """Run an ONNX file with ONNX Runtime's CPU provider; return its outputs (numpy)."""
    ort = import_optional('onnxruntime')
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    feed = {name: value.detach().cpu().numpy() for name, value in zip(input_names, inputs)}
    return session.run(None, feed)


def reconstructor_deviation(reconstructor, path, crops):
    """Return {output: max |Δ|} of the ONNX file at ``path`` against torch on ``crops``."""
    with torch.inference_mode():
        expected = reconstructor(crops)
    found = run_onnx_on_cpu(path, (crops,), RECONSTRUCTOR_INPUTS)
    return {key: float(np.abs(value - expected[key].float().numpy()).max())
            for key, value in zip(RECONSTRUCTOR_OUTPUTS, found)}


def detector_deviation(detector, path, inputs, table_size):
    """
    Compare the detector core in ONNX with torch: max |Δ| of the detections, same hands.

    Returns {'rows': max |Δ| letterbox px over the valid rows (boxes, score, class,
    keypoints), 'same_hands': the same number of hands in every frame, 'hands': detections
    compared, 'tied_frames': frames left out}. A frame whose scores tie (a saturated score of
    1.0 twice) is left out of ``rows``: there the order, hence the NMS, is decided by rounding.
    """
    with torch.inference_mode():
        rows, valid = detector.forward_fixed(*inputs, table_size)
    found_rows, found_valid = run_onnx_on_cpu(path, inputs, DETECTOR_INPUTS)
    rows, valid = rows.numpy(), valid.numpy()
    same = bool((found_valid.sum(1) == valid.sum(1)).all())
    deltas, tied = [0.0], 0
    for expected, mask, found, found_mask in zip(rows, valid, found_rows, found_valid):
        scores = np.sort(expected[mask, 4])
        if len(scores) > 1 and np.diff(scores).min() < 1e-6:
            tied += 1
            continue
        if mask.sum() == found_mask.sum():
            deltas.append(float(np.abs(found[mask] - expected[mask]).max(initial=0.0)))
    return {'rows': max(deltas), 'same_hands': same,
            'hands': int(valid.sum()), 'tied_frames': tied}
