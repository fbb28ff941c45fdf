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

"""Which OpenCV arithmetic the tests compare with: the release decides the 8-bit warp."""

import cv2

# OpenCV >= 4.11 computes 8-bit warpAffine in float32, which the torch crop path reproduces
# exactly; older releases (Ubuntu 22.04's 4.5.4) use 1/32-pixel fixed point, a few grey levels
# apart on some pixels.
NEW_OPENCV = tuple(int(v) for v in cv2.__version__.split('.')[:2]) >= (4, 11)
