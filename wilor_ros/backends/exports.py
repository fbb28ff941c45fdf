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
The ONNX exports of one pair of weights files, made on demand, checked, and cached.

:class:`CachedExports` hands out the cache entry of the detector core (per letterbox size and
table size) and of the reconstructor, exporting a missing or unusable one from the torch
networks (loaded on the CPU in fp32 only then) and checking it against torch on the spot
before it is stored. The key of an export: the weights' SHA-256, the torch, onnx and
onnxscript versions, the opset and :data:`~wilor_ros.backends.engine_cache.EXPORT_FORMAT`.
"""

import importlib.metadata
import json
import pathlib

import numpy as np
import torch

from wilor_ros.backends import BackendError
from wilor_ros.backends.engine_cache import (CacheEntry, engines_dir, EXPORT_FORMAT, say,
                                             weights_hash)
from wilor_ros.backends.onnx_export import (detector_deviation, detector_example,
                                            DETECTOR_INPUTS, DETECTOR_OUTPUTS, DetectorCore,
                                            export_onnx, KEY_METADATA, OPSET,
                                            reconstructor_deviation, reconstructor_example,
                                            RECONSTRUCTOR_INPUTS, RECONSTRUCTOR_OUTPUTS,
                                            ReconstructorCore)

# An export further than this from torch is refused (not cached): fp32 against fp32 differs
# by rounding only (measured: 1e-7 m vertices, 1e-2 px boxes on the fixtures).
MAX_VERTEX_DEVIATION_M = 1e-4
MAX_DETECTOR_DEVIATION_PX = 0.5


def package_version(name):
    """Return an installed distribution's version, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


class CachedExports:
    """
    The exports of ``detector_path`` and ``reconstructor_path`` in ``cache_root``/onnx.

    :meth:`detector` and :meth:`reconstructor` return a usable
    :class:`~wilor_ros.backends.engine_cache.CacheEntry` (suffix '.onnx'), making it when
    needed; :meth:`refuse` drops one that a runtime could not open, so the next call makes it
    again.
    """

    def __init__(self, detector_path, reconstructor_path, cache_root=None):
        self.weights = {'detector': pathlib.Path(detector_path),
                        'reconstructor': pathlib.Path(reconstructor_path)}
        self.cache_root = cache_root
        self.folder = engines_dir(cache_root) / 'onnx'
        self._hashes = {}
        self._torch = {}

    def weights_hash(self, network):
        """Return the SHA-256 of ``network``'s weights file ('detector' or 'reconstructor')."""
        if network not in self._hashes:
            self._hashes[network] = weights_hash(self.weights[network], self.cache_root)
        return self._hashes[network]

    def key(self, network, **shape):
        """Return the cache key of an export of ``network`` with ``shape`` fields."""
        return dict(network=network, weights_sha256=self.weights_hash(network),
                    torch=torch.__version__, onnx=package_version('onnx'),
                    onnxscript=package_version('onnxscript'), opset=OPSET,
                    format=EXPORT_FORMAT, **shape)

    def detector_entry(self, input_hw, table_size):
        """Return the (unchecked) cache entry of the detector core for one input size."""
        height, width = (int(v) for v in input_hw)
        key = self.key('detector', input_hw=[height, width], table_size=int(table_size))
        stem = f'detector-{key["weights_sha256"][:12]}-{height}x{width}-t{int(table_size)}'
        return CacheEntry(self.folder, stem, key, 'ONNX export of the hand detector')

    def reconstructor_entry(self):
        """Return the (unchecked) cache entry of the reconstructor export."""
        key = self.key('reconstructor')
        return CacheEntry(self.folder, f'reconstructor-{key["weights_sha256"][:12]}', key,
                          'ONNX export of the WiLoR reconstructor')

    def torch_network(self, network):
        """Load a torch network on the CPU in fp32 (once), to export it or compare with it."""
        if network not in self._torch:
            if network == 'detector':
                from wilor_ros.detector import load_detector
                self._torch[network] = load_detector(self.weights[network], 'cpu')
            else:
                from wilor_ros.reconstructor import load_reconstructor
                self._torch[network] = load_reconstructor(self.weights[network], 'cpu')
        return self._torch[network]

    def release(self, network):
        """Drop a torch network loaded for exporting (the reconstructor: 2.4 GB)."""
        self._torch.pop(network, None)

    def detector(self, input_hw, table_size):
        """Return the usable detector export for ``input_hw`` (H, W) and ``table_size``."""
        entry = self.detector_entry(input_hw, table_size)
        reason = entry.check()
        if reason is None:
            return entry
        if reason != 'missing':
            entry.refuse(reason)
        detector = self.torch_network('detector')
        inputs = detector_example(input_hw, table_size=table_size)
        say(f'exporting the hand detector ({input_hw[0]}x{input_hw[1]} input, {table_size} '
            'rows) to ONNX: about a minute')
        seconds, deviation = self._make(entry, self._export_detector, detector, inputs,
                                        table_size)
        entry.commit({'export_seconds': round(seconds, 2), 'deviation': deviation})
        return entry

    def reconstructor(self):
        """Return the usable reconstructor export (its ``info``: crop size, focal length)."""
        entry = self.reconstructor_entry()
        reason = entry.check()
        if reason is None:
            return entry
        if reason != 'missing':
            entry.refuse(reason)
        say('loading the WiLoR reconstructor in torch to export it')
        model = self.torch_network('reconstructor')
        crops = reconstructor_example(model.crop_size)
        size_gb = sum(p.numel() for p in model.parameters()) * 4 / 1e9
        say(f'exporting the WiLoR reconstructor ({size_gb:.2f} GB fp32) to ONNX: one to a few '
            'minutes')
        seconds, deviation = self._make(entry, self._export_reconstructor, model, crops)
        entry.commit({'export_seconds': round(seconds, 2), 'deviation': deviation,
                      'crop_size': int(model.crop_size),
                      'focal_length': float(model.focal_length)})
        return entry

    @staticmethod
    def _make(entry, export, *args):
        # Whatever stops an export (an error, Ctrl-C) leaves no half-written files behind.
        try:
            return export(entry, *args)
        except BaseException:
            entry.abandon()
            raise

    @staticmethod
    def _export_detector(entry, detector, inputs, table_size):
        temporary = entry.temporary('.onnx')
        seconds = export_onnx(DetectorCore(detector, table_size), inputs, DETECTOR_INPUTS,
                              DETECTOR_OUTPUTS, temporary,
                              {KEY_METADATA: json.dumps(entry.key, sort_keys=True)})
        deviation = detector_deviation(detector, temporary, inputs, table_size)
        say(f'detector exported in {seconds:.1f} s; ONNX Runtime vs torch: max |Δ| '
            f'{deviation["rows"]:.2g} px, same hands: {deviation["same_hands"]} '
            f'({deviation["hands"]} detections; {deviation["tied_frames"]} frames with tied '
            'scores not compared)')
        if not deviation['same_hands'] or deviation['rows'] > MAX_DETECTOR_DEVIATION_PX:
            raise BackendError(f'the ONNX export of the hand detector differs from torch '
                               f'({deviation}); not cached')
        return seconds, deviation

    @staticmethod
    def _export_reconstructor(entry, model, crops):
        temporary = entry.temporary('.onnx')
        seconds = export_onnx(ReconstructorCore(model), crops, RECONSTRUCTOR_INPUTS,
                              RECONSTRUCTOR_OUTPUTS, temporary,
                              {KEY_METADATA: json.dumps(entry.key, sort_keys=True)})
        deviation = reconstructor_deviation(model, temporary, crops[0])
        say(f'reconstructor exported in {seconds:.1f} s; ONNX Runtime vs torch: max |Δ| '
            f'vertices {deviation["pred_vertices"]:.2g} m, keypoints_2d '
            f'{deviation["pred_keypoints_2d"]:.2g}, cam_t {deviation["pred_cam_t"]:.2g} m')
        if not deviation['pred_vertices'] <= MAX_VERTEX_DEVIATION_M:
            raise BackendError(f'the ONNX export of the reconstructor differs from torch by '
                               f'{deviation["pred_vertices"]:.3g} m; not cached')
        with open(entry.temporary('.faces.npy'), 'wb') as stream:
            np.save(stream, np.asarray(model.faces, dtype=np.int64))
        return seconds, deviation
