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

"""Starting ``wilor_node``: its pipeline from its settings; transitions that say why they fail."""

import functools
import traceback


class StartupError(RuntimeError):
    """The node cannot start (missing weights, unusable device); the message says why."""


def build_pipeline(settings, logger):
    """Load both networks with the node's settings (:func:`wilor_ros.loading.load_pipeline`)."""
    from wilor_ros.loading import load_pipeline, PipelineLoadError

    from wilor_ros.options import PipelineOptions

    detector_path, reconstructor_path = settings.weight_paths()
    # Start-up takes seconds with the real weights: say what is going on (and a stop signal
    # from now on abandons it, see main()).
    logger.info(f'loading {detector_path} and {reconstructor_path} on {settings.device}')
    options = PipelineOptions(
        device=settings.device, precision=settings.precision, compile=settings.compile,
        graph_mode=settings.graph_mode, backend=settings.backend,
        conf=settings.detection_confidence, iou=settings.detection_iou,
        rescale_factor=settings.rescale_factor, max_hands=settings.max_hands,
        # The first frame must not pay library initialisation (or compilation).
        warm_up=True)
    try:
        pipeline = load_pipeline(detector_path, reconstructor_path, options)
    except PipelineLoadError as error:
        raise StartupError(str(error)) from None
    logger.info(f'loaded {detector_path} and {reconstructor_path} on {pipeline.device} '
                f'({settings.backend}, {settings.precision})')
    return pipeline


def logged_transition(callback):
    """
    Log an unexpected exception of a lifecycle callback with its traceback, then re-raise it.

    rclpy turns an exception in a transition callback into the 'errorprocessing' state and a
    bare "Failed to complete transition" line: without this a bug (or a library's odd error)
    during configure left the user no reason at all.
    """
    @functools.wraps(callback)
    def run(self, state):
        try:
            return callback(self, state)
        except Exception as error:
            self.get_logger().fatal(f'{callback.__name__[3:]} failed: {error!r}\n'
                                    f'{traceback.format_exc().rstrip()}')
            raise
    return run
