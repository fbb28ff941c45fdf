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
The parameters of ``wilor_node``: declarations, descriptors, validation and a settings snapshot.

:data:`PARAMETERS` is the only list of them: every parameter is declared from it with a
``ParameterDescriptor`` (description, range for numbers, ``read_only`` for what is fixed at
start-up) and checked by :func:`check_value` both at start-up and on every change, so an invalid
value is rejected with a reason instead of reaching the pipeline. :class:`NodeSettings`, whose
fields are made from the table, is an immutable snapshot the inference thread reads once per
frame; live changes replace the whole snapshot, so a frame never sees half an update.
``config/wilor.yaml`` and the README's parameter table name the same parameters
(``test/test_parameter_docs.py``).
"""

import pathlib
import re

from rcl_interfaces.msg import SetParametersResult

from wilor_ros.backends import BACKENDS
from wilor_ros.hand_frame import check_frame_pattern
from wilor_ros.options import GRAPH_MODES
from wilor_ros.precision import PRECISIONS
from wilor_ros.retargeting import MODES, RETARGETING_SIDES, ROBOTS
from wilor_ros.ros import parameter_spec
from wilor_ros.ros.image_qos import RELIABILITIES
from wilor_ros.ros.markers import MarkerStyle
from wilor_ros.ros.node_diagnostics import (DEFAULT_LATENCY_BUDGET, DEFAULT_STALL_TIMEOUT,
                                            DEFAULT_WINDOW, MAX_WINDOW)
from wilor_ros.ros.parameter_spec import choice, ParameterSpec, settings_dataclass
from wilor_ros.ros.stamped_messages import MAX_MISSES
from wilor_ros.weights import default_weight_paths

_DEVICE_PATTERN = re.compile(r'(auto|cpu|cuda(:\d+)?)')
IMAGE_TRANSPORTS = ('raw', 'compressed')
# A relative ROS namespace: name tokens separated by '/'.
_CAMERA_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*')


def _device(value):
    if not _DEVICE_PATTERN.fullmatch(value):
        return f'must be auto, cpu, cuda or cuda:N, got {value!r}'
    return None


def _camera_names(value):
    names = list(value)
    if not names:
        return "must name at least one camera ('' = this node's own image topic)"
    for name in names:
        if name and not _CAMERA_NAME.fullmatch(name):
            return (f'entries must be relative namespaces like cam or robot/head_cam, got '
                    f'{name!r}')
    if len(set(names)) != len(names):
        return f'must not repeat a camera, got {names}'
    return None


def _rgba(value):
    values = list(value)
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        return f'must be 4 numbers R, G, B, A in [0, 1], got {values}'
    return None


_DEFAULT_STYLE = MarkerStyle()

PARAMETERS = (
    # Fixed at start-up.
    ParameterSpec('autostart', False,
                  'configure and activate the lifecycle node at start-up (for ros2 run and '
                  'scripts/run.sh; the launch file drives the transitions itself)',
                  read_only=True),
    ParameterSpec('cameras', [''],
                  'cameras served by one model: namespaces whose image and camera_info topics '
                  "are read and whose hands/markers/debug_image are written ('' = the node's "
                  'own image, camera_info, hands, ...); frames that arrived since the last batch '
                  'go through the networks together', read_only=True, check=_camera_names,
                  constraints="list of relative namespaces, e.g. ['left', 'right']"),
    ParameterSpec('detector_path', '',
                  'hand detector weights (detector.pt); empty: detector.pt in $WILOR_ROS_CACHE '
                  'or ~/.cache/wilor_ros, where wilor-download puts it', read_only=True),
    ParameterSpec('reconstructor_path', '',
                  'WiLoR reconstructor weights (wilor_final.ckpt); empty: wilor_final.ckpt in '
                  '$WILOR_ROS_CACHE or ~/.cache/wilor_ros, where wilor-download puts it',
                  read_only=True),
    ParameterSpec('device', 'auto', 'torch device: auto (cuda when available, else cpu), cpu, '
                  'cuda or cuda:N', read_only=True, check=_device,
                  constraints='auto | cpu | cuda | cuda:N'),
    ParameterSpec('precision', 'auto', 'compute precision of the reconstructor (MANO stays '
                  'fp32; the detector runs fp16 for fp16/bf16, else fp32): auto = bf16 on CUDA, '
                  'fp32 on the CPU; fp32 is strict IEEE float32; tf32 uses TF32 tensor cores',
                  read_only=True, check=choice(*PRECISIONS),
                  constraints=' | '.join(PRECISIONS)),
    ParameterSpec('compile', False, 'torch.compile both networks with CUDA graphs '
                  '(reduce-overhead) and static batch buckets of 1, 2, 4, 8 hands; start-up '
                  'then compiles for a minute or more', read_only=True),
    ParameterSpec('graph_mode', 'compile', 'how compile makes its graphs: compile '
                  '(torch.compile: inductor kernels, then CUDA graphs; a minute or more at a '
                  'first start, then cached) or capture (CUDA graphs recorded from the eager '
                  'networks in seconds, CUDA only; not yet timed on a GPU)', read_only=True,
                  check=choice(*GRAPH_MODES), constraints=' | '.join(GRAPH_MODES)),
    ParameterSpec('overlap', False, 'when frames wait while a batch runs, take them at once and '
                  'run their detector on a second CUDA stream during the reconstruction of that '
                  'batch (throughput under load; the results of a batch then also wait for the '
                  'image conversion of the next); not yet timed on a GPU', read_only=True),
    ParameterSpec('backend', 'torch', 'who runs the networks: torch; onnxruntime (fp32 ONNX '
                  'exports, CUDA provider on a GPU); tensorrt (engines built on this GPU, fp16 '
                  'for precision auto); exports and engines are cached, made on first use or by '
                  'wilor-export', read_only=True, check=choice(*BACKENDS),
                  constraints=' | '.join(BACKENDS)),
    ParameterSpec('image_transport', 'raw', 'raw: subscribe to image (sensor_msgs/Image); '
                  'compressed: subscribe to image/compressed (sensor_msgs/CompressedImage, '
                  'decoded in the node)', read_only=True, check=choice(*IMAGE_TRANSPORTS),
                  constraints=' | '.join(IMAGE_TRANSPORTS)),
    # As yolo_ros's image_reliability; qos_overrides.<topic>.subscription.reliability still
    # overrides it per topic.
    ParameterSpec('image_reliability', 'best_effort', 'QoS reliability of the image, '
                  'camera_info and depth_image subscriptions: best_effort (sensor data; matches '
                  'every camera driver) or reliable (every frame of a reliable publisher, e.g. '
                  'wilor_source of a file; best-effort publishers then do not match)',
                  read_only=True,
                  check=choice(*RELIABILITIES), constraints=' | '.join(RELIABILITIES)),
    # Applied from the next frame on.
    ParameterSpec('use_camera_info', True,
                  'place hands with the K of camera_info (metric depth) when it arrives; false '
                  "or no camera_info: WiLoR's focal heuristic (depth up to scale)"),
    ParameterSpec('detection.confidence', 0.3, 'minimum detector confidence of a hand',
                  value_range=(0.0, 1.0)),
    ParameterSpec('detection.iou', 0.7, 'IoU above which non-maximum suppression merges '
                  'overlapping detections', value_range=(0.0, 1.0)),
    ParameterSpec('max_hands', 10, 'most hands reconstructed per image (highest scores first)',
                  value_range=(1, 100)),
    ParameterSpec('rescale_factor', 2.0, 'crop side relative to the detection box (WiLoR: 2.0)',
                  value_range=(1.0, 4.0)),
    # 4K UHD: what the shipped Fast DDS shared-memory segment carries two of (any 8-bit encoding).
    ParameterSpec('max_image_pixels', 3840 * 2160, 'larger images are refused with a warning '
                  '(protects the node from absurd or corrupt sizes); raise it together with the '
                  'Fast DDS shared-memory segment (config/fastdds.xml)',
                  value_range=(1, 1 << 30)),
    ParameterSpec('publish.vertices', True,
                  'fill Hand.vertices (778 x 3 floats per hand) in the hands messages'),
    ParameterSpec('publish.markers', True,
                  'publish RViz markers on markers (built only while subscribed)'),
    ParameterSpec('publish.debug_image', True,
                  'publish the input with hands drawn on debug_image (built only while '
                  'subscribed)'),
    ParameterSpec('markers.left_color', list(_DEFAULT_STYLE.left_color),
                  'RGBA (0..1) of left hands in markers and debug_image', check=_rgba),
    ParameterSpec('markers.right_color', list(_DEFAULT_STYLE.right_color),
                  'RGBA (0..1) of right hands in markers and debug_image', check=_rgba),
    ParameterSpec('markers.alpha', _DEFAULT_STYLE.mesh_alpha,
                  'opacity of the hand mesh in markers and debug_image (0: no mesh)',
                  value_range=(0.0, 1.0)),
    ParameterSpec('markers.lifetime', _DEFAULT_STYLE.lifetime,
                  'seconds RViz keeps a marker that is not refreshed; 0 (default): until the '
                  'next frame replaces it',
                  value_range=(0.0, 60.0)),
    ParameterSpec('tracking.enabled', True,
                  'give hands stable ids across frames (Hand.id; empty when off)'),
    ParameterSpec('tracking.max_missed', 5,
                  'frames a hand may go undetected and keep its id', value_range=(0, 1000)),
    ParameterSpec('smoothing.enabled', True, 'One-Euro smoothing of tracked hands over time '
                  '(needs tracking.enabled)'),
    ParameterSpec('smoothing.min_cutoff', 1.0, 'One-Euro cutoff (Hz) of a hand at rest: lower '
                  'is smoother and lags more', value_range=(0.01, 100.0)),
    ParameterSpec('smoothing.beta', 6.0, 'One-Euro cutoff increase per m/s of hand speed (s/m):'
                  ' higher follows fast motion with less lag', value_range=(0.0, 1000.0)),
    # RGB-D, wrist TF, handedness, raw output (docs/rgbd.md).
    ParameterSpec('use_depth', True, 'fuse the aligned depth image (depth_image, 16UC1 mm or '
                  '32FC1 m) with the stamp nearest to the colour image: hands at the measured '
                  'depth (needs camera_info)'),
    ParameterSpec('sync.wait', 0.1, 'seconds an image waits for the camera_info and depth image '
                  'with its stamp when they have not arrived yet (topics arrive in any order); '
                  f'a topic that comes up empty {MAX_MISSES} times in a row is not waited for '
                  'until it is on time again; 0: never wait', value_range=(0.0, 1.0)),
    ParameterSpec('depth.sync_tolerance', 0.02, 'largest stamp difference (s) between the '
                  'colour image and the depth image fused with it', value_range=(0.0, 1.0)),
    ParameterSpec('publish.tf', True, 'publish a wrist frame per hand on /tf (parent: the '
                  "image's frame_id)"),
    ParameterSpec('tf.frame_pattern', 'hand_{id}', 'child frame name of each hand; '
                  'placeholders {id} (track id), {side} (left/right), {index}; e.g. '
                  '{side}_hand gives left_hand / right_hand', check=check_frame_pattern,
                  constraints='uses only {id}, {side}, {index}'),
    ParameterSpec('tracking.side_hysteresis', 5, 'detector left/right label flips of up to this '
                  'many frames do not change the side of a track', value_range=(0, 100)),
    ParameterSpec('smoothing.max_speed', 5.0, 'a hand moving faster than this (m/s) between two '
                  'frames restarts its filter instead of being smoothed through',
                  value_range=(0.1, 100.0)),
    ParameterSpec('diagnostics.stall_timeout', DEFAULT_STALL_TIMEOUT,
                  'seconds frames may wait with none processed before /diagnostics reports '
                  'ERROR (keep above the slowest frame: the first one includes warm-up)',
                  value_range=(0.5, 3600.0)),
    ParameterSpec('diagnostics.latency_budget', DEFAULT_LATENCY_BUDGET,
                  'mean seconds from image receipt to published hands above which '
                  '/diagnostics reports WARN (0: no latency check)', value_range=(0.0, 3600.0)),
    ParameterSpec('diagnostics.window', DEFAULT_WINDOW,
                  'seconds over which /diagnostics measures rate and timings',
                  value_range=(1.0, MAX_WINDOW)),
    # Robot outputs (wilor_ros.gestures, wilor_ros.retargeting); made at configure.
    ParameterSpec('gestures.enabled', True, "classify each hand's static gesture from its 3D "
                  'joints (Hand.gesture, and hri_msgs/Gesture on gestures when hri_msgs is '
                  'installed)', read_only=True),
    ParameterSpec('gestures.hold_frames', 3, 'frames a new gesture must last on a track before '
                  'it is reported (1: every frame as classified)', read_only=True,
                  value_range=(1, 100)),
    ParameterSpec('retargeting.enabled', False, 'joint targets of a robot hand from the tracked '
                  'hands (dex-retargeting), sensor_msgs/JointState on '
                  'retargeting/<side>/joint_states', read_only=True),
    ParameterSpec('retargeting.robot', 'leap', "robot hand: dex-retargeting's shipped "
                  'configuration of it', read_only=True, check=choice(*ROBOTS),
                  constraints=' | '.join(ROBOTS)),
    ParameterSpec('retargeting.side', 'right', 'human hands followed: right, left or both (one '
                  'robot hand per side)', read_only=True, check=choice(*RETARGETING_SIDES),
                  constraints=' | '.join(RETARGETING_SIDES)),
    ParameterSpec('retargeting.mode', 'vector', 'vector (fingertip vectors, teleoperation), '
                  'dexpilot (vectors with pinch priors) or position (link positions)',
                  read_only=True, check=choice(*MODES), constraints=' | '.join(MODES)),
    ParameterSpec('retargeting.urdf_dir', '', "folder of the robot descriptions (dex-urdf's "
                  'robots/hands: <robot>_hand/<robot>_hand_<side>.urdf)', read_only=True),
    ParameterSpec('retargeting.min_confidence', 0.5, 'least mean detector joint confidence of '
                  'the driving hand to retarget; below, the last targets are held',
                  read_only=True, value_range=(0.0, 1.0)),
    ParameterSpec('retargeting.hold_time', 0.5, 'seconds (image time) the last targets are '
                  'republished while the driving hand is lost or uncertain; then none',
                  read_only=True, value_range=(0.0, 10.0)),
    # Multi-view fusion (wilor_ros.multiview, wilor_ros.ros.fusion_publisher); made at configure.
    ParameterSpec('fusion.enabled', False, 'fuse the hands several calibrated cameras see into '
                  'one hand each in fusion.frame, published on hands_fused (needs camera_info '
                  'and the pose of every camera: TF or fusion.extrinsics)', read_only=True),
    ParameterSpec('fusion.frame', 'world', 'common frame of the fused hands (the optical frames '
                  'of the cameras are looked up in it)', read_only=True),
    ParameterSpec('fusion.sync_tolerance', 0.01, 'largest stamp difference (s) between a '
                  "camera's frame and the batch's reference stamp (the one most frames agree "
                  'with) for it to be fused; frames further off are left out and warned about',
                  read_only=True, value_range=(0.0, 1.0)),
    ParameterSpec('fusion.extrinsics', '', 'YAML file of camera poses in fusion.frame (camera '
                  'or frame name: translation, rotation quaternion x y z w); empty: from TF '
                  '(tf2_ros, or /tf_static in the venv install)', read_only=True),
)

SPECS = {spec.name: spec for spec in PARAMETERS}


def check_value(name, value):
    """Return why ``value`` is invalid for parameter ``name``, or None when it is valid."""
    spec = SPECS.get(name)
    return None if spec is None else spec.problem(value)


def validate_parameters(parameters):
    """Check rclpy Parameters about to be set; the result carries the reasons of a rejection."""
    reasons = []
    for parameter in parameters:
        reason = check_value(parameter.name, parameter.value)
        if reason:
            reasons.append(reason)
    return SetParametersResult(successful=not reasons, reason='; '.join(reasons))


def declare_parameters(node):
    """Declare every parameter on ``node`` (values from YAML / command line override)."""
    parameter_spec.declare_parameters(node, PARAMETERS)


class NodeSettings(settings_dataclass('NodeSettingsFields', PARAMETERS)):
    """
    Snapshot of every parameter value, attribute names with '_' for '.'.

    The fields come from :data:`PARAMETERS` (``detection.confidence`` ->
    ``detection_confidence``); ``from_values``, ``from_node`` and ``updated`` from
    :class:`wilor_ros.ros.parameter_spec.ParameterSettings`.
    """

    def weight_paths(self):
        """Return (detector, reconstructor) paths: the parameters, or the download cache."""
        defaults = default_weight_paths()
        detector = self.detector_path or defaults['detector']
        reconstructor = self.reconstructor_path or defaults['reconstructor']
        return (pathlib.Path(detector).expanduser(), pathlib.Path(reconstructor).expanduser())

    def marker_style(self):
        """Return the MarkerStyle of these settings."""
        return MarkerStyle(left_color=self.markers_left_color,
                           right_color=self.markers_right_color,
                           mesh_alpha=self.markers_alpha, lifetime=self.markers_lifetime)
