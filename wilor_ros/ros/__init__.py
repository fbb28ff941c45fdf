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
The ROS 2 layer: everything that imports rclpy or a message package.

The nodes (wilor_node, wilor_source, the overlay recorder), their parameters, the one module that
builds every message, and the RViz markers. The inference core (``wilor_ros``) never imports this.
"""

try:
    import rclpy  # noqa: F401  (fail here, with a clear message, rather than deep in a node)
except ImportError as error:
    raise ImportError(
        'wilor_ros.ros is the ROS 2 layer and needs rclpy: source your ROS 2 installation '
        '(e.g. /opt/ros/jazzy/setup.bash) or use the venv from scripts/setup.sh. The inference '
        f'core (import wilor_ros) works without ROS. ({error})') from error
