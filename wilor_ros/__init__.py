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
WiLoR 3D hand detection and reconstruction: the inference core, with no ROS dependency.

The top level reads as the data path (``hand_stream.py`` owns frames -> results for the node
and the CLI; ``pipeline.py`` ties the networks together, ``load_pipeline`` builds it)::

    frames (one per camera) -> hand_stream.py -> pipeline.py:
        images -> detector.py (hands: boxes, side) -> crops.py (256x256 crops)
        -> reconstructor.py (ViT + MANO + RefineNet) -> postprocess.py / camera.py
        -> hand.py (HandResult, camera optical frame)
    -> tracking.py (ids, smoothing) per camera -> after-tracking steps -> CameraHands

The layers are folders: ``models/`` holds the networks and their file formats, ``ros/``
everything that imports rclpy or a message package (the nodes, messages, markers), ``tools/``
the command-line tools. Nothing imported here loads rclpy.
"""

from wilor_ros.camera import CameraError, CameraIntrinsics
from wilor_ros.crops import crop_hands
from wilor_ros.detector import HandDetector, load_detector
from wilor_ros.hand import HandResult
from wilor_ros.hand_stream import CameraFrame, CameraHands, HandStream, TrackingOptions
from wilor_ros.loading import load_pipeline, PipelineLoadError
from wilor_ros.models.checkpoint_io import CheckpointError
from wilor_ros.options import PipelineOptions
from wilor_ros.pipeline import HandPipeline
from wilor_ros.reconstructor import load_reconstructor, WiLoR
from wilor_ros.smoothing import SmoothingConfig
from wilor_ros.tracking import HandTracker

__all__ = [
    'CameraError',
    'CameraFrame',
    'CameraHands',
    'HandStream',
    'PipelineOptions',
    'TrackingOptions',
    'CameraIntrinsics',
    'load_pipeline',
    'PipelineLoadError',
    'CheckpointError',
    'crop_hands',
    'HandDetector',
    'HandPipeline',
    'HandResult',
    'HandTracker',
    'load_detector',
    'load_reconstructor',
    'SmoothingConfig',
    'WiLoR',
]
