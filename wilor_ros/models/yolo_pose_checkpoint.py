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
The released YOLOv8-pose checkpoint's names and shapes, mapped onto :class:`YoloPose`.

Weights are loaded from the ultralytics ``state_dict`` names (``model.<index>.<...>``) through
an explicit index -> name table, with every key and shape checked; :func:`infer_config` reads
every size of the network from the tensor shapes, so the same code loads the released
detector and the small parity fixture.
"""

import re

import torch

from wilor_ros.models.checkpoint_io import CheckpointError
from wilor_ros.models.yolo_pose import YoloPose, YoloPoseConfig


# Ultralytics layer index -> attribute name here. Layers 10, 11, 13, 14, 17, 20 are the
# parameter-free Upsample/Concat steps written inline in forward_maps.
LAYER_NAMES = {
    0: 'stem', 1: 'down_p2', 2: 'stage_p2', 3: 'down_p3', 4: 'stage_p3', 5: 'down_p4',
    6: 'stage_p4', 7: 'down_p5', 8: 'stage_p5', 9: 'sppf',
    12: 'topdown_p4', 15: 'topdown_p3', 16: 'bottomup_down_p3', 18: 'bottomup_p4',
    19: 'bottomup_down_p4', 21: 'bottomup_p5', 22: 'head',
}
_LAYER_INDEX = {name: index for index, name in LAYER_NAMES.items()}
# Inside the Pose head: ultralytics cv2/cv3/cv4 are the box/class/keypoint branches.
HEAD_NAMES = {'cv2': 'box', 'cv3': 'cls', 'cv4': 'kpt', 'dfl.conv.weight': 'dfl_bins'}
_HEAD_KEYS = {name: key for key, name in HEAD_NAMES.items()}


def ultralytics_to_name(key):
    """Map an ultralytics key (``model.22.cv2.0.2.bias``) to ours (``head.box.0.2.bias``)."""
    match = re.fullmatch(r'model\.(\d+)\.(.+)', key)
    if match is None or int(match.group(1)) not in LAYER_NAMES:
        return None
    layer, rest = LAYER_NAMES[int(match.group(1))], match.group(2)
    if layer == 'head':
        if rest in HEAD_NAMES:
            rest = HEAD_NAMES[rest]
        else:
            first, _, tail = rest.partition('.')
            if first not in HEAD_NAMES:
                return None
            rest = f'{HEAD_NAMES[first]}.{tail}'
    return f'{layer}.{rest}'


def name_to_ultralytics(name):
    """Inverse of :func:`ultralytics_to_name`."""
    layer, _, rest = name.partition('.')
    if layer == 'head':
        if rest in _HEAD_KEYS:
            rest = _HEAD_KEYS[rest]
        else:
            first, _, tail = rest.partition('.')
            rest = f'{_HEAD_KEYS[first]}.{tail}'
    return f'model.{_LAYER_INDEX[layer]}.{rest}'


def _depth(state_dict, layer):
    pattern = re.compile(rf'model\.{layer}\.m\.(\d+)\.')
    found = {int(m.group(1)) for k in state_dict for m in [pattern.match(k)] if m}
    return len(found)


def infer_config(state_dict, *, strides=None, keypoint_shape=None, sppf_kernel=5,
                 backbone_shortcut=True, neck_shortcut=False, source='state dict'):
    """
    Read a :class:`YoloPoseConfig` from the tensor shapes of an ultralytics state dict.

    Only what shapes cannot tell comes from the arguments (pickled model attributes when the
    caller has them): strides, the keypoint layout (default (nk / 3, 3)), the SPPF pool size
    and the residual flags.
    """
    def shape(key):
        if key not in state_dict:
            raise CheckpointError(f'{source}: not a YOLOv8-pose network, weight {key!r} is '
                                  'missing')
        return tuple(state_dict[key].shape)

    def out_channels(layer):
        suffix = 'conv' if f'model.{layer}.conv.weight' in state_dict else 'cv2.conv'
        return shape(f'model.{layer}.{suffix}.weight')[0]

    num_keypoint_values = shape('model.22.cv4.0.2.weight')[0]
    if keypoint_shape is None:
        if num_keypoint_values % 3:
            raise CheckpointError(f'{source}: {num_keypoint_values} keypoint channels; pass the '
                                  'keypoint shape explicitly')
        keypoint_shape = (num_keypoint_values // 3, 3)
    keypoint_shape = tuple(int(v) for v in keypoint_shape)
    if keypoint_shape[0] * keypoint_shape[1] != num_keypoint_values:
        raise CheckpointError(f'{source}: keypoint shape {keypoint_shape} does not match the '
                              f'{num_keypoint_values} keypoint channels of the head')
    box_out = shape('model.22.cv2.0.2.weight')[0]
    return YoloPoseConfig(
        widths=tuple(shape(f'model.{i}.conv.weight')[0] for i in (0, 1, 3, 5, 7)),
        backbone_depths=tuple(_depth(state_dict, i) for i in (2, 4, 6, 8)),
        neck_widths=tuple(out_channels(i) for i in (12, 15, 16, 18, 19, 21)),
        neck_depths=tuple(_depth(state_dict, i) for i in (12, 15, 18, 21)),
        in_channels=shape('model.0.conv.weight')[1],
        num_classes=shape('model.22.cv3.0.2.weight')[0],
        keypoint_shape=keypoint_shape,
        reg_max=box_out // 4,
        box_hidden=shape('model.22.cv2.0.0.conv.weight')[0],
        cls_hidden=shape('model.22.cv3.0.0.conv.weight')[0],
        kpt_hidden=shape('model.22.cv4.0.0.conv.weight')[0],
        sppf_kernel=int(sppf_kernel),
        strides=tuple(float(s) for s in (strides if strides is not None else (8, 16, 32))),
        backbone_shortcut=bool(backbone_shortcut),
        neck_shortcut=bool(neck_shortcut),
    )


def build_yolo_pose(state_dict, *, source='state dict', fuse=True, **overrides):
    """
    Build the network from an ultralytics state dict, load it in float32 and fuse Conv+BN.

    The released weights are fp16; like ultralytics they are cast to float32 before fusing.
    ``overrides`` go to :func:`infer_config`.
    """
    config = infer_config(state_dict, source=source, **overrides)
    model = YoloPose(config)
    float_state = {k: (v.float() if v.is_floating_point() else v) for k, v in state_dict.items()}
    load_ultralytics_state_dict(model, float_state, source=source)
    model.eval().requires_grad_(False)
    if fuse:
        model.fuse_batchnorm()
    return model


def load_ultralytics_state_dict(model, state_dict, source='state dict'):
    """
    Load ultralytics-named weights into ``model``; every key and shape must match exactly.

    ``source`` names the file in error messages.
    """
    own = model.state_dict()
    mapped = {}
    unexpected = []
    for key, tensor in state_dict.items():
        name = ultralytics_to_name(key)
        if name is None or name not in own:
            unexpected.append(key)
        else:
            mapped[name] = tensor
    missing = [name_to_ultralytics(k) for k in own if k not in mapped]
    mismatched = [f'{name_to_ultralytics(k)}: file {tuple(t.shape)}, '
                  f'model {tuple(own[k].shape)}'
                  for k, t in mapped.items() if tuple(t.shape) != tuple(own[k].shape)]
    problems = []
    for title, items in (('missing', missing), ('unexpected', unexpected),
                         ('shape mismatch', mismatched)):
        if items:
            problems.append(f'{title} ({len(items)}): ' + ', '.join(items[:6])
                            + (' ...' if len(items) > 6 else ''))
    if problems:
        raise CheckpointError(f'{source}: weights do not fit the YOLOv8-pose network built '
                              f'from its shapes; ' + '; '.join(problems))
    with torch.no_grad():
        for name, tensor in mapped.items():
            own[name].copy_(tensor.to(own[name].dtype))
    return model
