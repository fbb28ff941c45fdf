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

"""The inference core imports without ROS: `import wilor_ros` must not load rclpy."""

import subprocess
import sys

CORE_MODULES = ['wilor_ros', 'wilor_ros.detector', 'wilor_ros.reconstructor', 'wilor_ros.crops',
                'wilor_ros.pipeline', 'wilor_ros.loading', 'wilor_ros.tracking',
                'wilor_ros.image_conversion', 'wilor_ros.debug_overlay',
                'wilor_ros.tools.download']


def test_core_modules_do_not_import_rclpy():
    code = (f'import sys, {", ".join(CORE_MODULES)}; '
            "leaked = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'rosidl_runtime_py', 'wilor_msgs', 'sensor_msgs')); "
            'assert not leaked, leaked')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_public_api_is_exported():
    import wilor_ros
    for name in ('load_detector', 'load_reconstructor', 'crop_hands', 'HandPipeline'):
        assert callable(getattr(wilor_ros, name))
