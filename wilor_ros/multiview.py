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
The multi-view fusion step: several calibrated cameras, one metric hand per physical hand.

:class:`MultiViewFusion` is an after-tracking step (:mod:`wilor_ros.hand_stream`). For a batch
of frames, one per camera:

1. **Synchronisation.** The reference stamp is the one with the most frames within
   ``sync_tolerance`` of it (the newest among equals); frames further away are left out of the
   fusion and counted (``out_of_sync``). Hardware-triggered cameras share stamps and are all
   fused; free-running cameras at 30 Hz are up to 17 ms apart, so a tolerance below that
   leaves some of their frames out, and a larger one fuses views of a moving hand taken at
   different moments (1 m/s over 10 ms: 1 cm).
2. **Poses.** ``camera_pose(camera, stamp)`` gives each camera's optical frame in the common
   frame (4x4, see :mod:`~wilor_ros.multiview_geometry`) or None; a camera without a pose or
   without a camera matrix is left out, with a warning through ``warn(kind, text)`` (the node
   throttles it). No camera with a pose: no fused hands for this batch (``hands`` is None).
3. **Association** (:mod:`~wilor_ros.multiview_association`): same side, epipolar consistency of
   the 2D joints, 3D proximity of the monocular hands.
4. **Triangulation and MANO placement** (:mod:`~wilor_ros.multiview_placement`) of every group
   of two or more views; a view that disagrees with the others is dropped from its group.
5. **Single views.** A hand only one camera saw is that camera's hand moved into the common
   frame, ``cameras`` = that camera, uncertainty = the monocular depth error; unless it is
   explained by a fused hand (the same hand detected again, or with the wrong side: its palm
   within 35 % of its 2D size of the fused hand's projection), then it is dropped. A view
   that two duplicate fused hands' merge drops is such a candidate too.

Fused hands get ids of their own (``f1``, ``f2``, ...), kept while a hand of the same side is
found within ``id_distance`` of the last position. The result, a :class:`FusionOutput`, is
``outputs['fusion']`` of every camera's result of the batch (the same object).
"""

import dataclasses
import itertools
from typing import Callable, List, Optional

import numpy as np

from wilor_ros.multiview_association import associate, AssociationConfig, PALM, ViewHand
from wilor_ros.multiview_geometry import hand_in_frame, projection_matrix
from wilor_ros.multiview_placement import fuse_group, single_view_hand
from wilor_ros.multiview_triangulation import project

# A single-view hand whose palm is within this share of its 2D size of a fused hand's
# projected palm is that hand seen again (or with the wrong side), not a new hand.
DUPLICATE_SHARE = 0.35
DUPLICATE_MIN_PX = 15.0
# Two fused hands of the same side whose joints are this close (mean, m) are one hand.
MERGE_DISTANCE = 0.03
# Seconds; the node's fusion.sync_tolerance default, and wilor-infer --sync-tolerance's.
DEFAULT_SYNC_TOLERANCE = 0.01


@dataclasses.dataclass
class FusionOutput:
    """
    What the fusion gives for one batch.

    ``frame``: the common frame; ``stamp``: the reference stamp (s); ``hands``: HandResults in
    the common frame, or None when no camera had a pose; ``cameras``: the cameras fused;
    ``out_of_sync``: cameras left out for their stamp; ``without_pose``: cameras left out for
    a missing pose or camera matrix; ``rejected_views``: views dropped from a group or as a
    duplicate of a fused hand.
    """

    frame: str
    stamp: float
    hands: Optional[list]
    cameras: List[str]
    out_of_sync: List[str]
    without_pose: List[str]
    rejected_views: int = 0


def reference_stamp(stamps, tolerance):
    """Return the stamp with the most stamps within ``tolerance`` of it (newest among equals)."""
    stamps = list(stamps)
    return max(stamps, key=lambda s: (sum(abs(o - s) <= tolerance for o in stamps), s))


class FusedIds:
    """Ids of fused hands over time: nearest previous hand of the same side, else a new id."""

    def __init__(self, distance=0.15, max_age=1.0):
        """Match within ``distance`` metres; forget hands unseen for ``max_age`` seconds."""
        self.distance = distance
        self.max_age = max_age
        self._tracks = {}  # id -> (is_right, wrist, stamp)
        self._next = 1

    def assign(self, hands, stamp):
        """Return the ids of ``hands`` (in order) for a batch at ``stamp``."""
        self._tracks = {k: v for k, v in self._tracks.items()
                        if stamp - v[2] <= self.max_age and v[2] <= stamp}
        pairs = []
        for index, hand in enumerate(hands):
            wrist = np.asarray(hand.keypoints_3d[0], np.float64)
            for track, (is_right, last, _) in self._tracks.items():
                gap = float(np.linalg.norm(wrist - last))
                if is_right == hand.is_right and gap <= self.distance:
                    pairs.append((gap, index, track))
        ids, taken = [None] * len(hands), set()
        for _, index, track in sorted(pairs):
            if ids[index] is None and track not in taken:
                ids[index] = track
                taken.add(track)
        for index, hand in enumerate(hands):
            if ids[index] is None:
                ids[index] = f'f{self._next}'
                self._next += 1
            self._tracks[ids[index]] = (hand.is_right,
                                        np.asarray(hand.keypoints_3d[0], np.float64), stamp)
        return ids


class MultiViewFusion:
    """
    The after-tracking step ``fusion`` (see the module docstring).

    ``frame``: the common frame's name; ``camera_pose(camera, stamp)``: 4x4 or None;
    ``sync_tolerance``: seconds; ``warn(kind, text)``: where problems go; ``use_raw``: fuse the
    unsmoothed hands (the default: smoothing per camera lags, and the views of one moment
    must agree).
    """

    name = 'fusion'

    def __init__(self, frame: str, camera_pose: Callable,
                 sync_tolerance: float = DEFAULT_SYNC_TOLERANCE,
                 warn: Optional[Callable] = None, association=AssociationConfig(),
                 inlier_px: float = 15.0, use_raw: bool = True):
        """Keep the settings; fused ids start at f1."""
        self.frame = frame
        self.camera_pose = camera_pose
        self.sync_tolerance = float(sync_tolerance)
        self.warn = warn or (lambda kind, text: None)
        self.association = association
        self.inlier_px = inlier_px
        self.use_raw = use_raw
        self.ids = FusedIds()
        self.frames_out_of_sync = 0
        self.batches = 0
        self.views_without_pose = 0
        self.rejected_views = 0
        self.failures = 0
        self.hands_last_batch = 0

    def counters(self):
        """Return the running counts for /diagnostics (``fusion.<key>``)."""
        return {'batches': self.batches, 'frames_out_of_sync': self.frames_out_of_sync,
                'views_without_pose': self.views_without_pose,
                'rejected_views': self.rejected_views, 'failures': self.failures,
                'hands_last_batch': self.hands_last_batch}

    def __call__(self, results):
        """Fuse the batch's hands; put the FusionOutput on every result."""
        try:
            output = self.fuse(results)
        except Exception as error:  # A failed fusion must not cost the cameras' own hands.
            self.failures += 1
            self.warn('fusion_failed', f'multi-view fusion failed: {error!r}')
            output = FusionOutput(self.frame, max((r.stamp for r in results), default=0.0),
                                  None, [], [], [])
        for result in results:
            result.outputs[self.name] = output

    def fuse(self, results):
        """Return the FusionOutput of a batch of CameraHands."""
        self.batches += 1
        stamp = reference_stamp((r.stamp for r in results), self.sync_tolerance)
        in_sync = [r for r in results if abs(r.stamp - stamp) <= self.sync_tolerance]
        out_of_sync = [r.camera for r in results if abs(r.stamp - stamp) > self.sync_tolerance]
        self.frames_out_of_sync += len(out_of_sync)
        views, without_pose = [], []
        for result in in_sync:
            pose = self.camera_pose(result.camera, result.stamp)
            # A 3x3 K, or the node's CameraIntrinsics (its .matrix).
            matrix = getattr(result.frame.camera_matrix, 'matrix', result.frame.camera_matrix)
            if pose is None or matrix is None:
                without_pose.append(result.camera)
                what = ('no camera matrix (camera_info)' if matrix is None
                        else f'no transform from {self.frame!r}')
                self.warn('fusion_pose', f'camera {result.camera!r}: {what}; its hands are '
                          'left out of the fusion (per-camera hands go on)')
                continue
            views.append((result, np.asarray(pose, np.float64),
                          np.asarray(matrix, np.float64)))
        self.views_without_pose += len(without_pose)
        self.hands_last_batch = 0
        if not views:
            return FusionOutput(self.frame, stamp, None, [], out_of_sync, without_pose)
        view_hands = []
        for view, (result, pose, matrix) in enumerate(views):
            hands = result.raw_hands if self.use_raw else result.hands
            projection = projection_matrix(matrix, pose)
            view_hands += [ViewHand(result.camera, view, index, hand, pose, matrix, projection)
                           for index, hand in enumerate(hands)]
        fused, singles = [], []
        for group in associate(view_hands, self.association):
            result = fuse_group(group, hand_in_frame, self.inlier_px) if len(group) > 1 else None
            if result is None:
                # No two views agree: each stays a single-view candidate.
                singles += group
                continue
            fused.append(result)
        fused, dropped = _merge_duplicates(fused, self.inlier_px)
        # A view a merge drops disagrees with the merged hand: a single-view candidate, so it
        # counts as rejected when a fused hand explains it and stays a hand of its own if not.
        singles += dropped
        rejected = sum(len(f.rejected) for f in fused)
        hands = [f.hand for f in fused]
        for view_hand in singles:
            if _explained(view_hand, fused):
                rejected += 1
                continue
            hands.append(single_view_hand(view_hand, hand_in_frame).hand)
        ids = self.ids.assign(hands, stamp)
        hands = [dataclasses.replace(hand, track_id=track) for hand, track in zip(hands, ids)]
        self.rejected_views += rejected
        self.hands_last_batch = len(hands)
        return FusionOutput(self.frame, stamp, hands, [r.camera for r, _, _ in views],
                            out_of_sync, without_pose, rejected)


def _merge_duplicates(fused, inlier_px):
    """
    Merge fused hands of disjoint cameras that are one hand (joints within MERGE_DISTANCE).

    Complete linkage can split one hand seen by four cameras into two pairs when one cross
    pair misses a threshold; both pairs then triangulate the same hand. Return (fused hands,
    views the merges dropped): a view that agreed with its pair but not with the merged hand.
    """
    dropped = []
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(fused)), 2):
            first, second = fused[a], fused[b]
            if first.hand.is_right != second.hand.is_right or set(
                    first.hand.cameras) & set(second.hand.cameras):
                continue
            gap = np.mean(np.linalg.norm(first.hand.keypoints_3d - second.hand.keypoints_3d,
                                         axis=1))
            if gap > MERGE_DISTANCE:
                continue
            both = fuse_group(first.members + second.members, hand_in_frame, inlier_px)
            if both is None:
                continue
            dropped += both.rejected
            both.rejected = first.rejected + second.rejected
            fused = [f for k, f in enumerate(fused) if k not in (a, b)] + [both]
            merged = True
            break
    return fused, dropped


def _explained(view_hand, fused):
    """Return True when a fused hand projects onto this single-view hand's palm."""
    palm = list(PALM)
    pixels = view_hand.pixels
    size = float(np.max(np.ptp(pixels, axis=0)))
    limit = max(DUPLICATE_SHARE * size, DUPLICATE_MIN_PX)
    centre = pixels[palm].mean(axis=0)
    # A single-view candidate is never a member of a fused hand: no fused hand to skip.
    for other in fused:
        projected = project(view_hand.projection[None],
                            np.asarray(other.hand.keypoints_3d, np.float64)[palm])[0]
        if np.linalg.norm(projected.mean(axis=0) - centre) <= limit:
            return True
    return False
