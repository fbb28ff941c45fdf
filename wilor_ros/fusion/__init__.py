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
Several calibrated cameras, one metric hand: multi-view fusion in a common frame (no ROS).

:class:`~wilor_ros.fusion.multiview.MultiViewFusion` is the after-tracking step; the parts are
:mod:`~wilor_ros.fusion.geometry` (poses, projections, hands moved between frames),
:mod:`~wilor_ros.fusion.association` (which views show the same hand),
:mod:`~wilor_ros.fusion.triangulation` (robust weighted triangulation) and
:mod:`~wilor_ros.fusion.placement` (the MANO hand on the triangulated joints).
"""

from wilor_ros.fusion.multiview import FusionOutput, MultiViewFusion

__all__ = ['FusionOutput', 'MultiViewFusion']
