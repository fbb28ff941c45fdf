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

import importlib

# Loaded on first use (PEP 562), so ``import wilor_ros`` and the console scripts' entry points
# (wilor_ros/tools/entry_points.py) do not import torch before they install their signal
# handlers: a Ctrl-C in the seconds torch takes to import is then an orderly stop.
_EXPORTS = {
    'CameraError': 'wilor_ros.camera', 'CameraIntrinsics': 'wilor_ros.camera',
    'crop_hands': 'wilor_ros.crops',
    'HandDetector': 'wilor_ros.detector', 'load_detector': 'wilor_ros.detector',
    'HandResult': 'wilor_ros.hand',
    'CameraFrame': 'wilor_ros.hand_stream', 'CameraHands': 'wilor_ros.hand_stream',
    'HandStream': 'wilor_ros.hand_stream', 'TrackingOptions': 'wilor_ros.hand_stream',
    'load_pipeline': 'wilor_ros.loading', 'PipelineLoadError': 'wilor_ros.loading',
    'CheckpointError': 'wilor_ros.models.checkpoint_io',
    'PipelineOptions': 'wilor_ros.options',
    'HandPipeline': 'wilor_ros.pipeline',
    'load_reconstructor': 'wilor_ros.reconstructor', 'WiLoR': 'wilor_ros.reconstructor',
    'SmoothingConfig': 'wilor_ros.smoothing',
    'HandTracker': 'wilor_ros.tracking',
}


def __getattr__(name):
    """Import a public name's module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    """List the public names with the module's own."""
    return sorted(set(globals()) | set(_EXPORTS))


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
