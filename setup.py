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

"""Install wilor_ros (ament_python): the inference core, the nodes and the tools."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'wilor_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')
         + glob('config/*.rviz')),
    ],
    # Run-time dependencies come from scripts/requirements.txt (venv) or rosdep + pip (ROS).
    install_requires=['setuptools'],
    # The deployment backends (wilor_ros.backends): never needed by the torch backend; TensorRT
    # on a Jetson comes from JetPack (docs/jetson.md), so no extra forces it.
    extras_require={'test': ['pytest'],
                    'onnx': ['onnx', 'onnxscript'],
                    'onnxruntime': ['onnx', 'onnxscript', 'onnxruntime'],
                    'tensorrt': ['onnx', 'onnxscript', 'tensorrt']},
    zip_safe=True,
    maintainer='wilor_ros maintainers',
    maintainer_email='wilor_ros@example.com',
    description='WiLoR 3D hand detection and reconstruction for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'wilor_node = wilor_ros.tools.entry_points:wilor_node',
            'wilor_source = wilor_ros.tools.entry_points:wilor_source',
            'wilor_rviz = wilor_ros.ros.rviz_launcher:main',
            'wilor-download = wilor_ros.tools.download:main',
            'wilor-infer = wilor_ros.tools.entry_points:wilor_infer',
            'wilor-export = wilor_ros.tools.export:main',
        ],
    },
)
