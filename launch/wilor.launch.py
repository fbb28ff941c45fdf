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
Launch wilor_node, optionally with a camera source (wilor_source) and RViz.

    ros2 launch wilor_ros wilor.launch.py image_topic:=/camera/color/image_raw \
        camera_info_topic:=/camera/color/camera_info use_rviz:=true
    ros2 launch wilor_ros wilor.launch.py use_source:=true source:=hands.mp4 use_rviz:=true

Arguments (``ros2 launch wilor_ros wilor.launch.py --show-args``): params_file, image_topic,
camera_info_topic, namespace, node_name, device, use_rviz, rviz_config, fixed_frame,
use_source, source. The launch modules are imported inside the functions, so the file can be
imported (and tested) where launch_ros is not installed.
"""

import os

PACKAGE = 'wilor_ros'

# name: (default, description); a default of None is filled in from the package share.
ARGUMENTS = {
    'params_file': (None, 'YAML with the wilor_node parameters (default: the installed '
                          'config/wilor.yaml)'),
    'image_topic': ('image_raw', 'sensor_msgs/Image topic to process (relative names are in '
                                 'the namespace)'),
    'camera_info_topic': ('camera_info', 'sensor_msgs/CameraInfo topic of that camera'),
    'namespace': ('', 'namespace of the nodes and of their relative topics'),
    'node_name': ('wilor_node', 'name of the hand reconstruction node'),
    'device': ('', 'torch device (auto, cpu, cuda, cuda:N); empty: the params file value'),
    'use_rviz': ('false', 'start RViz with the hand markers and the debug image'),
    'rviz_config': (None, 'RViz configuration (default: the installed config/wilor.rviz)'),
    'fixed_frame': ('camera_optical_frame', "RViz fixed frame: the camera's optical frame "
                                            '(header.frame_id of the images)'),
    'use_source': ('false', 'also start wilor_source to publish a video, images or a webcam'),
    'source': ('0', 'for use_source: video file, image folder, image, /dev/videoN or webcam '
                    'index'),
}


def share_directory():
    """Return the installed share directory of the package."""
    from ament_index_python.packages import get_package_share_directory

    return get_package_share_directory(PACKAGE)


def as_bool(name, text):
    """Read a boolean launch argument as launch's own conditions do ('true'/'false'/'1'/'0')."""
    value = text.strip().lower()
    if value in ('true', '1'):
        return True
    if value in ('false', '0'):
        return False
    raise ValueError(f'launch argument {name} must be true or false, got {text!r}')


def topic_prefix(namespace):
    """Return '/ns' for a namespace ('' for none), the prefix of the nodes' relative topics."""
    namespace = namespace.strip('/')
    return f'/{namespace}' if namespace else ''


def launch_setup(context, *args, **kwargs):
    """Build the nodes from the evaluated launch arguments."""
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def value(name):
        return LaunchConfiguration(name).perform(context)

    namespace = value('namespace')
    remappings = [('image', value('image_topic')), ('camera_info', value('camera_info_topic'))]
    parameters = [value('params_file')]
    if value('device'):
        parameters.append({'device': value('device')})
    actions = [Node(package=PACKAGE, executable='wilor_node', name=value('node_name'),
                    namespace=namespace, parameters=parameters, remappings=remappings,
                    output='screen', emulate_tty=True)]
    if as_bool('use_source', value('use_source')):
        # wilor_source publishes image + camera_info: onto the topics wilor_node listens to.
        actions.append(Node(
            package=PACKAGE, executable='wilor_source', name='wilor_source',
            namespace=namespace,
            parameters=[{'source': value('source'), 'frame_id': value('fixed_frame')}],
            remappings=remappings,
            output='screen', emulate_tty=True))
    if as_bool('use_rviz', value('use_rviz')):
        # The RViz configuration names the topics of a node without namespace.
        prefix = topic_prefix(namespace)
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2',
            arguments=['-d', value('rviz_config'), '-f', value('fixed_frame')],
            remappings=[('/markers', f'{prefix}/markers'),
                        ('/debug_image', f'{prefix}/debug_image')],
            output='screen'))
    return actions


def generate_launch_description():
    """Declare the arguments; the nodes are built once they are known (launch_setup)."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    share = share_directory()
    defaults = {'params_file': os.path.join(share, 'config', 'wilor.yaml'),
                'rviz_config': os.path.join(share, 'config', 'wilor.rviz')}
    declarations = [
        DeclareLaunchArgument(name, default_value=default if default is not None
                              else defaults[name], description=description)
        for name, (default, description) in ARGUMENTS.items()]
    return LaunchDescription(declarations + [OpaqueFunction(function=launch_setup)])
