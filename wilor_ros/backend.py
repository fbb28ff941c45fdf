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
What the pipeline needs from a hand detector and a hand reconstructor, written down.

:class:`~wilor_ros.pipeline.HandPipeline` talks to its two networks only through these two
protocols, so a network can be replaced (an ONNX Runtime session, a TensorRT engine) without
the pipeline, the tracker, the node or the CLI knowing. The torch models are the first
implementation: :class:`wilor_ros.detector.HandDetector` and
:class:`wilor_ros.reconstructor.WiLoR`; :func:`check_detector` and
:func:`check_reconstructor` say what an implementation lacks.

Both run on the pipeline's device without reading anything back on the host: the pipeline
brings the detection tables down in one copy and the reconstructions in another (the two host
waits per frame of the GPU path).
"""

from typing import Mapping, Protocol, runtime_checkable, Sequence

import numpy as np
import torch

# Keys and per-frame shapes of a detection table (N frames, T rows, K keypoints): rows are
# sorted by descending score, ``valid`` marks the detections (a prefix of each frame's rows).
DETECTION_KEYS = {
    'valid': ('N', 'T'),             # bool
    'boxes': ('N', 'T', 4),          # float32 x1, y1, x2, y2 in image px (unrounded, clipped)
    'scores': ('N', 'T'),            # float32
    'is_right': ('N', 'T'),          # bool
    'keypoints': ('N', 'T', 'K', 3),  # float32 u, v (image px), visibility in [0, 1]
}

# Keys and shapes of a reconstruction of B crops: the official WiLoR raw outputs (right-hand
# MANO frame: left hands arrive as mirrored crops; crop camera), all float32.
RECONSTRUCTION_KEYS = {
    'pred_cam': ('B', 3),               # crop camera [s, tx, ty]
    'global_orient': ('B', 1, 3, 3),
    'hand_pose': ('B', 15, 3, 3),
    'betas': ('B', 10),
    'pred_cam_t': ('B', 3),
    'pred_keypoints_3d': ('B', 21, 3),  # MANO frame, OpenPose joint order (skeleton.py)
    'pred_vertices': ('B', 778, 3),
    'pred_keypoints_2d': ('B', 21, 2),  # crop-normalised: x 256 + 128 = crop pixels
}


@runtime_checkable
class HandDetectorBackend(Protocol):
    """
    Hands in a batch of frames: a fixed-size detection table per frame.

    ``device``: where the tables live; ``table_size``: T, the rows per frame (``max_det``
    must not exceed it). ``detect_batch(images, conf, iou, max_det)`` takes uint8 HxWx3 BGR
    frames (numpy or tensors on ``device``) and returns :data:`DETECTION_KEYS`; ``conf``,
    ``iou`` and ``max_det`` may change on every call without rebuilding anything.
    """

    device: torch.device
    table_size: int

    def detect_batch(self, images: Sequence, conf: float, iou: float,
                     max_det: int) -> Mapping[str, torch.Tensor]:
        """Detect hands in every frame: :data:`DETECTION_KEYS`."""


@runtime_checkable
class HandReconstructorBackend(Protocol):
    """
    Hands from crops: ``reconstructor(crops)`` -> :data:`RECONSTRUCTION_KEYS`.

    ``crops``: (B, 3, S, S) float32 RGB normalised with the ImageNet mean and std, on
    ``device`` (S = ``crop_size``, 256 for WiLoR; left hands mirrored). ``focal_length``:
    the crop camera's focal length in px (5000 for WiLoR); ``faces``: the MANO triangles
    (F, 3) int64, right-hand winding.
    """

    device: torch.device
    crop_size: int
    focal_length: float
    faces: np.ndarray

    def __call__(self, crops: torch.Tensor) -> Mapping[str, torch.Tensor]:
        """Reconstruct a batch of crops: :data:`RECONSTRUCTION_KEYS`."""


def _missing(backend, protocol):
    names = [name for name in protocol.__annotations__ if not hasattr(backend, name)]
    names += [name for name in ('detect_batch', '__call__')
              if name in dir(protocol) and name in protocol.__dict__
              and not callable(getattr(backend, name, None))]
    return names


def check_detector(detector):
    """Return ``detector``, or TypeError naming what :class:`HandDetectorBackend` misses."""
    missing = _missing(detector, HandDetectorBackend)
    if missing:
        raise TypeError(f'{type(detector).__name__} is no hand detector backend: it lacks '
                        f'{", ".join(missing)} (see wilor_ros.backend.HandDetectorBackend)')
    return detector


def check_reconstructor(reconstructor):
    """Return ``reconstructor``, or TypeError naming what the protocol misses."""
    missing = _missing(reconstructor, HandReconstructorBackend)
    if missing:
        raise TypeError(f'{type(reconstructor).__name__} is no hand reconstructor backend: it '
                        f'lacks {", ".join(missing)} (see '
                        'wilor_ros.backend.HandReconstructorBackend)')
    return reconstructor
