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
camera_info_topic, depth_image_topic, namespace, node_name, device, autostart, use_rviz,
rviz_config, fixed_frame, use_source, source. The launch modules are imported inside the
functions, so the file can be imported (and tested) where launch_ros is not installed.

wilor_node is a lifecycle node. With ``autostart`` (default true) the launch configures it
and, once it is inactive, activates it: with launch_ros's own ``LifecycleNode(autostart=True)``
where that exists (ros2/launch_ros#430, in Rolling since 2025-02), otherwise with the
event-handler pattern (ChangeState configure, then on the 'inactive' state ChangeState
activate), which works on Humble, Jazzy and later alike.

RViz (``use_rviz``) starts through ``wilor_rviz``: with ``fixed_frame`` empty (the default) it
takes the fixed frame from the camera's first message, so the markers, which carry the image's
frame_id, show for any camera without a TF tree.
"""

import os
import re

PACKAGE = 'wilor_ros'

# name: (default, description); a default of None is filled in from the package share.
ARGUMENTS = {
    'params_file': (None, 'YAML with the wilor_node parameters (default: the installed '
                          'config/wilor.yaml)'),
    'image_topic': ('image_raw', 'sensor_msgs/Image topic to process (relative names are in '
                                 'the namespace)'),
    'camera_info_topic': ('camera_info', 'sensor_msgs/CameraInfo topic of that camera'),
    'depth_image_topic': ('depth_image', 'depth image aligned to image_topic (16UC1 mm or 32FC1 '
                                         'm), e.g. /camera/aligned_depth_to_color/image_raw; '
                                         'fused when it arrives'),
    'namespace': ('', 'namespace of the nodes and of their relative topics'),
    'node_name': ('wilor_node', 'name of the hand reconstruction node'),
    'device': ('', 'torch device (auto, cpu, cuda, cuda:N); empty: the params file value'),
    'autostart': ('true', 'configure and activate the lifecycle node wilor_node at start '
                          '(false: leave it unconfigured for a lifecycle manager)'),
    'use_rviz': ('false', 'start RViz with the hand markers and the debug image'),
    'rviz_config': (None, 'RViz configuration (default: the installed config/wilor.rviz)'),
    'fixed_frame': ('', 'RViz fixed frame; empty: the frame_id of the camera (taken from its '
                        'first camera_info or image), so the markers show without TF. With '
                        'use_source, also the frame_id wilor_source publishes'),
    'use_source': ('false', 'also start wilor_source to publish a video, images or a webcam'),
    'source': ('0', 'for use_source: video file, image folder, image, /dev/videoN or webcam '
                    'index. A file or folder is paced on hands and sent reliably (every frame '
                    'is processed, at most at its rate); a camera runs live, best effort'),
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


def is_live_source(source):
    """
    Return True for a camera (``/dev/videoN`` or a webcam index), False for a file or folder.

    The rule of wilor_source (wilor_ros.media_io), repeated so that this file does not import
    the package (and torch) to be evaluated.
    """
    return source.isdigit() or re.fullmatch(r'/dev/video\d+', source) is not None


def topic_prefix(namespace):
    """Return '/ns' for a namespace ('' for none), the prefix of the nodes' relative topics."""
    namespace = namespace.strip('/')
    return f'/{namespace}' if namespace else ''


def launch_ros_has_autostart():
    """Return True when launch_ros's LifecycleNode takes ``autostart`` (launch_ros#430)."""
    import inspect

    from launch_ros.actions import LifecycleNode

    return 'autostart' in inspect.signature(LifecycleNode.__init__).parameters


def lifecycle_node_actions(autostart, **node_arguments):
    """
    Return the actions that start wilor_node as a lifecycle node, configured and activated.

    Without ``autostart`` only the node is started (unconfigured, for a lifecycle manager).
    """
    from launch_ros.actions import LifecycleNode

    if not autostart:
        return [LifecycleNode(**node_arguments)]
    if launch_ros_has_autostart():
        return [LifecycleNode(autostart=True, **node_arguments)]
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    node = LifecycleNode(**node_arguments)
    # Registered before the node starts, so the 'inactive' transition cannot be missed.
    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=Transition.TRANSITION_ACTIVATE))]))
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    return [activate_when_inactive, node, configure]


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
    use_source = as_bool('use_source', value('use_source'))
    # A file or folder (scripts/run.sh does the same): paced on wilor_node's hands and sent
    # reliably, so every frame is processed; without it the frames sent before the node is
    # active and during each inference were dropped (0 of 90 reached hands under load). A
    # camera stays live and best effort, as a camera driver.
    paced = use_source and not is_live_source(value('source'))
    if paced:
        parameters.append({'image_reliability': 'reliable'})
    actions = lifecycle_node_actions(
        as_bool('autostart', value('autostart')),
        package=PACKAGE, executable='wilor_node', name=value('node_name'),
        namespace=namespace, parameters=parameters,
        remappings=remappings + [('depth_image', value('depth_image_topic'))],
        output='screen', emulate_tty=True)
    fixed_frame = value('fixed_frame')
    if use_source:
        # wilor_source publishes image + camera_info: onto the topics wilor_node listens to.
        source_parameters = {'source': value('source')}
        if fixed_frame:
            source_parameters['frame_id'] = fixed_frame
        if paced:
            # 'hands' resolves in the shared namespace to the topic wilor_node publishes.
            source_parameters.update(pace_topic='hands', image_reliability='reliable')
        actions.append(Node(
            package=PACKAGE, executable='wilor_source', name='wilor_source',
            namespace=namespace, parameters=[source_parameters], remappings=remappings,
            output='screen', emulate_tty=True))
    if as_bool('use_rviz', value('use_rviz')):
        # The RViz configuration names the topics of a node without namespace.
        prefix = topic_prefix(namespace)
        arguments = ['--config', value('rviz_config'),
                     '--remap', f'/markers:={prefix}/markers',
                     '--remap', f'/debug_image:={prefix}/debug_image']
        if fixed_frame:
            arguments += ['--fixed-frame', fixed_frame]
        # wilor_rviz reads the camera's frame on the node's topics, then becomes rviz2.
        actions.append(Node(
            package=PACKAGE, executable='wilor_rviz', name='rviz2', namespace=namespace,
            arguments=arguments,
            remappings=remappings + [('hands', f'{prefix}/hands')],
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
