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
The node's after-tracking steps and their publishers, made at configure from the settings.

An after-tracking step (:class:`wilor_ros.hand_stream.AfterTrackingStep`, no ROS) computes
something from every camera's tracked hands; its *publisher* (here, in the ROS layer) turns
what the step added to ``CameraHands.outputs`` into messages. :func:`build_after_tracking`
is the one place that decides which steps a node runs; the worker publishes each batch's
hands first, then calls every publisher, so a step never delays ``hands``.

A publisher is an object with ``publish(results, headers)`` (``results``: the batch's
:class:`~wilor_ros.hand_stream.CameraHands`; ``headers``: each camera's image header, same
order) and ``destroy(node)``.
"""


def build_after_tracking(node, settings):
    """
    Return (steps, publishers) for ``node`` with ``settings``; ValueError when unusable.

    The error's text names the parameter or file and what to do; configure fails with it.
    """
    steps, publishers = [], []
    if settings.fusion_enabled:
        from wilor_ros.ros.fusion_publisher import build_fusion

        step, publisher = build_fusion(node, settings)
        steps.append(step)
        publishers.append(publisher)
    if settings.gestures_enabled:
        from wilor_ros.ros.gesture_publisher import build_gestures

        step, publisher = build_gestures(node, settings)
        steps.append(step)
        if publisher is not None:
            publishers.append(publisher)
    if settings.retargeting_enabled:
        from wilor_ros.ros.retargeting_publisher import build_retargeting

        step, publisher = build_retargeting(node, settings)
        steps.append(step)
        publishers.append(publisher)
    return steps, publishers
