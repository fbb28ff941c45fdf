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
Deployment backends: the same two networks run by torch, ONNX Runtime or TensorRT.

``backend`` (:class:`~wilor_ros.options.PipelineOptions`, node parameter, ``wilor-infer
--backend``) picks who runs the detector core and the reconstructor; the pipeline, the tracker,
the node and the CLI see only the protocols of :mod:`wilor_ros.backend`, so the outputs and
the two host waits per frame do not depend on it. ``torch`` is the default and needs nothing
more; ``onnxruntime`` runs fp32 exports (:mod:`.onnx_export`) with ONNX Runtime's CUDA provider
on a GPU and its CPU provider otherwise (:mod:`.onnxruntime_backend`); ``tensorrt`` builds
engines from the same exports on the user's GPU (:mod:`.tensorrt_backend`). Exports and engines
are cached (:mod:`.engine_cache`) and made by ``wilor-export`` or on first use.
"""

import importlib

BACKENDS = ('torch', 'onnxruntime', 'tensorrt')
# The pip extra (setup.py extras_require) that brings each optional module.
_EXTRAS = {'onnx': 'onnx', 'onnxscript': 'onnx', 'onnxruntime': 'onnxruntime',
           'tensorrt': 'tensorrt'}


class BackendError(RuntimeError):
    """A backend cannot run: its package is missing, or an export or engine cannot be made."""


def import_optional(name):
    """Import an optional package, or raise BackendError naming the extra that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        extra = _EXTRAS.get(name, name)
        hint = (' (on a Jetson: the python3-libnvinfer package of JetPack, seen from a venv '
                'made with --system-site-packages; see docs/jetson.md)' if name == 'tensorrt'
                else '')
        raise BackendError(f'{name} is not installed ({error}); install it with pip install '
                           f'"wilor_ros[{extra}]" or pip install {name}{hint}') from None


def load_backends(options, detector_path, reconstructor_path, device):
    """
    Return (detector, reconstructor, precision) for ``options.backend`` on ``device``.

    Only for the exported backends (``onnxruntime``, ``tensorrt``); the torch one is
    :func:`wilor_ros.loading.load_pipeline`'s own. Raises :class:`BackendError` with one line
    when a package is missing or a network cannot be exported, built or loaded.
    """
    if options.backend == 'onnxruntime':
        from wilor_ros.backends.onnxruntime_backend import load_onnxruntime
        return load_onnxruntime(options, detector_path, reconstructor_path, device)
    if options.backend == 'tensorrt':
        from wilor_ros.backends.tensorrt_backend import load_tensorrt
        return load_tensorrt(options, detector_path, reconstructor_path, device)
    raise BackendError(f'unknown backend {options.backend!r}: expected one of '
                       f'{", ".join(BACKENDS)}')
