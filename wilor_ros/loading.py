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
How a :class:`~wilor_ros.pipeline.HandPipeline` comes to be from two weights files.

The one way the node, the CLI and the benchmarks get a pipeline: the device is chosen and
checked (a GPU that torch cannot use is said loudly, not silently replaced by the CPU), the
precision resolved and the process-wide backend switches set, both networks loaded, and every
failure turned into one line that names the file or the device.
"""

import os
import pathlib
import shutil
import warnings

import torch

from wilor_ros.options import PipelineOptions
from wilor_ros.pipeline import HandPipeline, WARM_UP_IMAGE_HW
from wilor_ros.precision import configure_backends, detector_dtype, resolve_precision

__all__ = ['load_pipeline', 'PipelineLoadError', 'PipelineOptions', 'resolve_device']


class PipelineLoadError(RuntimeError):
    """The pipeline cannot be built (weights missing or unreadable, device unusable)."""


def resolve_device(device='auto'):
    """
    Map a device string to the torch device to use; PipelineLoadError when it is unusable.

    ``auto``: ``cuda`` when torch can use a GPU, else ``cpu``; ``cpu``; ``cuda`` or ``cuda:N``
    (checked against the GPUs torch sees).
    """
    text = str(device).strip().lower()
    if text == 'auto':
        if torch.cuda.is_available():
            return 'cuda'
        gpu = _gpu_without_cuda()
        if gpu:
            warnings.warn(f'device auto: {gpu}, but torch {torch.__version__} cannot use it '
                          f'({_why_no_cuda()}); running on the CPU, which is far slower',
                          RuntimeWarning, stacklevel=2)
        return 'cpu'
    if text == 'cpu':
        return 'cpu'
    kind, _, index = text.partition(':')
    if kind != 'cuda' or (index and not index.isdigit()):
        raise PipelineLoadError(f'unknown device {device!r}: expected auto, cpu, cuda or cuda:N')
    if not torch.cuda.is_available():
        raise PipelineLoadError(f'device {device} requested but CUDA is not available to torch '
                                f'{torch.__version__} ({_why_no_cuda()}); use device cpu or '
                                'auto')
    if int(index or 0) >= torch.cuda.device_count():
        raise PipelineLoadError(f'device {device} requested but only '
                                f'{torch.cuda.device_count()} CUDA device(s) exist')
    return text


def _gpu_without_cuda():
    """Describe an NVIDIA GPU visible to the OS, or '' (used when torch sees no CUDA)."""
    if os.path.exists('/dev/nvidiactl') or os.path.exists('/dev/nvidia0'):
        return 'an NVIDIA GPU is present (/dev/nvidia*)'
    if shutil.which('nvidia-smi'):
        return 'nvidia-smi is installed'
    return ''


def _why_no_cuda():
    if torch.version.cuda is None:
        return 'a CPU-only torch build; install a CUDA build of torch'
    return (f'built for CUDA {torch.version.cuda}; the driver is missing, too old or not '
            'accessible (check nvidia-smi and CUDA_VISIBLE_DEVICES)')


def load_pipeline(detector_path, reconstructor_path, options=None, **changes):
    """
    Load both networks and build the :class:`HandPipeline` described by ``options``.

    The one way the node, the CLI and the benchmarks get a pipeline. ``options``: a
    :class:`~wilor_ros.options.PipelineOptions` (default: its defaults); ``changes``: fields
    of it to change (``load_pipeline(d, r, device='cpu', conf=0.25)``). ``device``: see
    :func:`resolve_device`; ``precision``: 'auto' (bf16 on CUDA, fp32 on the CPU), 'fp32',
    'tf32', 'fp16' or 'bf16' for the reconstructor's network layers (the detector:
    :func:`detector_dtype`); it also sets the process-wide TF32 switches
    (:func:`wilor_ros.precision.configure_backends`). ``compile``: static batch buckets and
    ``torch.compile(mode='reduce-overhead')``, or with ``graph_mode`` 'capture' CUDA graphs
    captured from the eager networks (CUDA only); ``backend``: torch, or onnxruntime / tensorrt
    (:func:`wilor_ros.backends.load_backends`: cached exports and engines, made on first
    use); ``warm_up``: run :meth:`HandPipeline.warm_up`
    (at ``warm_up_image_hw``, the camera's size when known) before returning; with
    ``compile`` the compilations persist (:mod:`wilor_ros.compile_cache`: loaded before
    compiling, saved after warm-up), so a second start does not compile again. Raises
    :class:`PipelineLoadError` with one line naming the file and the ``wilor-download``
    command when a weights file is missing or unusable, or the option or device when it is
    unusable.
    """
    from wilor_ros.backends import BackendError, load_backends
    from wilor_ros.detector import load_detector
    from wilor_ros.models.checkpoint_io import CheckpointError
    from wilor_ros.reconstructor import load_reconstructor
    from wilor_ros.weights import missing_weights_hint

    try:
        options = (options or PipelineOptions()).replace(**changes)
    except (TypeError, ValueError) as error:
        raise PipelineLoadError(str(error)) from None
    paths = {}
    for what, path in (('hand detector', detector_path),
                       ('WiLoR reconstructor', reconstructor_path)):
        path = pathlib.Path(path).expanduser()
        if not path.is_file():
            raise PipelineLoadError(f'{what} weights not found: {path}; {missing_weights_hint()}')
        paths[what] = path
    torch_device = resolve_device(options.device)
    if options.compile and options.graph_mode == 'capture' and \
            torch.device(torch_device).type != 'cuda':
        raise PipelineLoadError(f'graph_mode capture records CUDA graphs: it needs a CUDA '
                                f'device, not {torch_device}')
    try:
        if options.backend != 'torch':
            detector, reconstructor, precision = load_backends(
                options, paths['hand detector'], paths['WiLoR reconstructor'], torch_device)
        else:
            precision = resolve_precision(options.precision, torch_device)
            configure_backends(precision)
            detector = load_detector(paths['hand detector'], torch_device,
                                     detector_dtype(precision))
            reconstructor = load_reconstructor(paths['WiLoR reconstructor'], torch_device,
                                               dtype=precision)
    except CheckpointError as error:
        raise PipelineLoadError(f'{error}; {missing_weights_hint()}') from None
    except BackendError as error:
        raise PipelineLoadError(f'backend {options.backend}: {error}') from None
    image_hw = options.warm_up_image_hw or WARM_UP_IMAGE_HW
    cache = None
    if options.compile and options.graph_mode == 'compile':
        # Before the first compilation: inductor's caches persist, the saved artifacts load.
        from wilor_ros.compile_cache import (artifacts_supported, CompileCache,
                                             compile_cache_key, use_persistent_inductor_cache)
        use_persistent_inductor_cache()
        if artifacts_supported():
            cache = CompileCache(compile_cache_key(torch_device, precision, paths.values(),
                                                   image_hw, max_hands=options.max_hands))
            cache.load()
    pipe = HandPipeline(detector, reconstructor, conf=options.conf, iou=options.iou,
                        rescale_factor=options.rescale_factor, max_hands=options.max_hands,
                        compile=options.compile, graph_mode=options.graph_mode)
    pipe.precision = precision
    pipe.compile_cache = cache
    if options.warm_up:
        pipe.warm_up(image_hw)
        if cache is not None:
            cache.save()
    return pipe
