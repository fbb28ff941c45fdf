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
The rule that no non-finite number (inf, NaN) leaves the pipeline or enters the tracker.

A hand can become non-finite in ways no input check catches: a degenerate network output (a
crop-camera scale of 0 puts the hand at infinite depth), float64 camera math that overflows
float32, NaN weights. Such a hand carries no usable information, and a single one would poison
everything downstream (the tracker's assignment refuses a cost matrix with inf / NaN, filters
keep NaN forever), so it is dropped, and counted by whoever drops it.

The check walks every field of the :class:`~wilor_ros.hand.HandResult` dataclass, so fields
added later are covered without touching this file.
"""

import dataclasses
import math

import numpy as np


def _finite(value):
    if isinstance(value, np.ndarray):
        return not np.issubdtype(value.dtype, np.inexact) or bool(np.isfinite(value).all())
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value)
    return True


def hand_is_finite(hand):
    """Return True when every number of ``hand`` (any dataclass of arrays and floats) is finite."""
    return all(_finite(getattr(hand, field.name)) for field in dataclasses.fields(hand))


def split_finite(hands):
    """Return (the hands whose numbers are all finite, in order; how many were dropped)."""
    kept = [hand for hand in hands if hand_is_finite(hand)]
    return kept, len(hands) - len(kept)
