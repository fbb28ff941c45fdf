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
End-to-end WiLoR: detector -> crops -> reconstructor -> hands in the camera frame.

Per frame: the image is uploaded once to the reconstructor's device and shared by the
detector's letterbox and the crops; all hands of a frame (or of several frames, see
:meth:`HandPipeline.process_batch`) go through the reconstructor in one batch under
``torch.inference_mode``; one transfer brings the results back.
"""

import numpy as np
import torch

from wilor_ros.camera import heuristic_intrinsics, intrinsics_from_matrix
from wilor_ros.crops import crop_geometry, crop_hands, frame_to_tensor
from wilor_ros.postprocess import build_hand_results

DEFAULT_MAX_HANDS = 10


class HandPipeline:
    """
    WiLoR hand reconstruction for BGR images.

    ``detector``: a :class:`wilor_ros.detector.HandDetector` (``load_detector``);
    ``reconstructor``: a :class:`wilor_ros.reconstructor.WiLoR` (``load_reconstructor``);
    ``conf``: detector confidence threshold (official demo: 0.3); ``iou``: NMS IoU threshold
    (ultralytics default 0.7); ``rescale_factor``: crop enlargement around each box (official
    demo: 2.0); ``max_hands``: keep at most this many hands per frame, highest scores first;
    ``dtype``: None keeps the reconstructor's precision, else 'fp32' / 'fp16' / 'bf16' (or the
    torch dtype) for its network layers.

    ``pipe(image_bgr, camera_matrix=None, compute_vertices=True)`` returns a list of
    :class:`~wilor_ros.hand.HandResult` in the detector's order (descending score). Without
    ``camera_matrix`` the translation uses WiLoR's focal heuristic 5000/256 * max(W, H).

    """

    def __init__(self, detector, reconstructor, conf=0.3, iou=0.7, rescale_factor=2.0,
                 max_hands=DEFAULT_MAX_HANDS, dtype=None):
        self.detector = detector
        self.reconstructor = reconstructor
        self.conf = float(conf)
        self.iou = float(iou)
        self.rescale_factor = float(rescale_factor)
        self.max_hands = int(max_hands)
        if self.max_hands < 1:
            raise ValueError(f'max_hands must be at least 1, got {max_hands}')
        if dtype is not None:
            reconstructor.set_precision(dtype)

    @property
    def device(self):
        """Device of the reconstructor (where frames and crops live)."""
        return torch.device(self.reconstructor.device)

    @property
    def faces(self):
        """MANO triangles (1538, 3) int64, right-hand winding."""
        return self.reconstructor.faces

    def detect(self, image_bgr):
        """
        Run the detector; return numpy boxes (N, 4) float32 (unrounded), scores, is_right.

        At most ``max_hands`` detections, highest scores first. ``image_bgr`` may be a uint8
        tensor already on a device (it is passed on as is).
        """
        found = self.detector.detect(image_bgr, conf=self.conf, iou=self.iou,
                                     max_det=self.max_hands)
        return (found['boxes'].float().cpu().numpy(), found['scores'].float().cpu().numpy(),
                found['is_right'].cpu().numpy().astype(bool))

    def __call__(self, image_bgr, camera_matrix=None, compute_vertices=True):
        """Detect and reconstruct all hands of one BGR uint8 image; list of HandResult."""
        return self.process_batch([image_bgr], [camera_matrix], compute_vertices)[0]

    def reconstruct(self, image_bgr, boxes, is_right, camera_matrix=None, scores=None,
                    compute_vertices=True):
        """
        Reconstruct given hands without running the detector.

        ``boxes`` (N, 4) x1, y1, x2, y2 pixels, ``is_right`` (N,), ``scores`` (N,) (default
        1.0). Returns a list of HandResult in the given order; boxes without area (clipped to
        nothing at the image border) are skipped.
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.ones(len(boxes), np.float32) if scores is None else scores
        frame = frame_to_tensor(image_bgr, self.device)
        return self._reconstruct([(frame, boxes, np.asarray(scores, dtype=np.float32),
                                   np.asarray(is_right).astype(bool), camera_matrix)],
                                 compute_vertices)[0]

    def process_batch(self, images, camera_matrices=None, compute_vertices=True):
        """
        Detect and reconstruct several frames with one reconstructor call for all hands.

        ``camera_matrices``: None or one entry (3x3 K or None) per image. Returns one list of
        HandResult per image.
        """
        if camera_matrices is None:
            camera_matrices = [None] * len(images)
        if len(camera_matrices) != len(images):
            raise ValueError(f'{len(images)} images but {len(camera_matrices)} camera matrices')
        frames = []
        for image, camera_matrix in zip(images, camera_matrices):
            frame = frame_to_tensor(image, self.device)
            boxes, scores, is_right = self.detect(frame)
            frames.append((frame, boxes, scores, is_right, camera_matrix))
        return self._reconstruct(frames, compute_vertices)

    def camera_intrinsics(self, camera_matrix, width, height):
        """Intrinsics from a camera matrix, or WiLoR's heuristic for a W x H image when None."""
        if camera_matrix is not None:
            return intrinsics_from_matrix(camera_matrix)
        return heuristic_intrinsics(width, height,
                                    getattr(self.reconstructor, 'focal_length', 5000.0),
                                    getattr(self.reconstructor, 'crop_size', 256))

    def _reconstruct(self, frames, compute_vertices):
        """Crop every frame's hands, run one batched reconstruction, split per frame."""
        crops, kept = [], []
        for frame, boxes, scores, is_right, _ in frames:
            width = boxes[:, 2] - boxes[:, 0]
            height = boxes[:, 3] - boxes[:, 1]
            # Boxes clipped to nothing at the image border cannot be cropped.
            keep = np.flatnonzero((width > 0) & (height > 0))
            kept.append(keep)
            if len(keep):
                crops.append(crop_hands(frame, boxes[keep], is_right[keep],
                                        rescale_factor=self.rescale_factor,
                                        device=self.device)['img'])
        outputs = None
        if crops:
            with torch.inference_mode():
                outputs = self.reconstructor(torch.cat(crops) if len(crops) > 1 else crops[0])
        results, start = [], 0
        for (frame, boxes, scores, is_right, camera_matrix), keep in zip(frames, kept):
            count = len(keep)
            if count == 0:
                results.append([])
                continue
            part = {key: value[start:start + count] for key, value in outputs.items()}
            start += count
            center, size = crop_geometry(boxes[keep], self.rescale_factor)
            results.append(build_hand_results(
                part, center, size, boxes[keep], scores[keep], is_right[keep],
                self.camera_intrinsics(camera_matrix, frame.shape[1], frame.shape[0]),
                compute_vertices))
        return results
