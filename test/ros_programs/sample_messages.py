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

"""Deterministic, fully populated wilor_msgs samples shared by the DDS test programs."""

import numpy as np
from wilor_msgs.msg import Hand, HandArray


def make_hand_array(seed=7):
    """Two hands (one left, one right) with every field set to seeded non-zero values."""
    from geometry_msgs.msg import Point, Vector3

    rng = np.random.default_rng(seed)
    msg = HandArray()
    msg.header.stamp.sec = 1700000000
    msg.header.stamp.nanosec = 123456789
    msg.header.frame_id = 'camera_color_optical_frame'
    for index, side in enumerate((Hand.LEFT, Hand.RIGHT)):
        hand = Hand()
        hand.side = side
        hand.id = f'track-{index + 1}'
        hand.score = float(rng.uniform(0.3, 1.0))
        hand.bbox = rng.uniform(0, 640, 4).astype(np.float32)
        joints = rng.normal(0, 0.05, (21, 3)) + [0.1, -0.05, 0.6]
        hand.keypoints_3d = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in joints]
        hand.keypoints_2d = rng.uniform(0, 480, 42).astype(np.float32)
        hand.global_orient = rng.normal(0, 1, 3).astype(np.float32)
        hand.hand_pose = rng.normal(0, 0.3, 45).astype(np.float32)
        hand.betas = rng.normal(0, 1, 10).astype(np.float32)
        hand.cam_t = Vector3(x=0.1, y=-0.05, z=0.6 + index)
        hand.focal_length = [615.5, 612.25]
        hand.principal_point = np.array([321.5, 238.25], dtype=np.float32)
        hand.focal_source = Hand.FOCAL_CAMERA_INFO
        hand.vertices = rng.normal(0, 0.05, 778 * 3).astype(np.float32)
        msg.hands.append(hand)
    return msg
