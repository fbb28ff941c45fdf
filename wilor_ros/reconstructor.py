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
The WiLoR hand reconstructor: ViT with MANO tokens, RefineNet and MANO, in plain torch.

:func:`load_reconstructor` reads the official Lightning checkpoint (``wilor_final.ckpt``)
unchanged through the restricted reader of :mod:`wilor_ros.models.checkpoint_io`, infers every size
from the tensor shapes, and loads the weights by name with shape checks. The forward pass
reproduces the official ``WiLoR.forward_step`` (commit 819369a) for 256x256 crops normalised
as the official ``ViTDetDataset`` does; outputs keep the official raw semantics (crop camera,
right-hand MANO frame: left hands arrive as mirrored crops).
"""

import numpy as np
import torch
from torch import nn

from wilor_ros.camera import CROP_FOCAL_LENGTH, CROP_SIZE
from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint, release_freed_memory
from wilor_ros.models.mano import (MANO_BUFFERS, mano_buffers_from_pickle,
                                   mano_buffers_from_state_dict, MANOLayer, UNUSED_MANO_BUFFERS)
from wilor_ros.models.refine_net import crop_camera_translation, project_crop, RefineNet
from wilor_ros.models.refine_net import refine_dims_from_state_dict
from wilor_ros.models.vit import OFFICIAL_IMAGE_SIZE, vit_dims_from_state_dict, WiLoRViT
from wilor_ros.precision import compute_dtype
from wilor_ros.rotations import rot6d_to_rotmat

# Official cfg.EXTRA.FOCAL_LENGTH and cfg.MODEL.IMAGE_SIZE, used when the checkpoint's saved
# config does not state them.

# Keys of the official output the contract exposes.
OUTPUT_KEYS = ('pred_cam', 'global_orient', 'hand_pose', 'betas', 'pred_cam_t',
               'pred_keypoints_3d', 'pred_vertices', 'pred_keypoints_2d')

# Lightning bookkeeping and the training-only adversarial discriminator.
_IGNORED_PREFIXES = ('discriminator.',)
_IGNORED_KEYS = ('initialized',)


# Layers whose weights autocast would cast to the compute dtype on every call (it caches only
# weights that require grad): cast once instead. Norms keep their float32 weights.
_CAST_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def cast_network_weights(module, dtype):
    """Cast the Linear and convolution weights of ``module`` to ``dtype`` in place, once."""
    for layer in module.modules():
        if isinstance(layer, _CAST_LAYERS):
            layer.to(dtype)
    return module


class WiLoR(nn.Module):
    """
    ViT + MANO + RefineNet, as the official ``WiLoR`` LightningModule runs at inference.

    ``forward(img)`` takes crops (B, 3, 256, 256) and returns the official raw outputs;
    :meth:`forward_detailed` adds the intermediate values (ViT read-out, coarse mesh,
    RefineNet features and corrections). For fp16/bf16 the Linear and convolution weights
    are cast once (:meth:`set_precision`) and the layers run under autocast, which then has
    nothing left to cast but activations: the same arithmetic as autocast over float32
    weights, without re-casting 639 M weights per call. Norms, rotations and MANO always run
    in float32.
    """

    def __init__(self, backbone, refine_net, mano, focal_length=CROP_FOCAL_LENGTH,
                 crop_size=CROP_SIZE, vit_image_size=OFFICIAL_IMAGE_SIZE):
        super().__init__()
        self.backbone = backbone
        self.refine_net = refine_net
        self.mano = mano
        self.focal_length = float(focal_length)
        self.crop_size = int(crop_size)
        self.vit_image_size = tuple(vit_image_size)
        if self.vit_image_size[0] != self.crop_size or self.vit_image_size[1] > self.crop_size:
            raise ValueError(f'ViT input {self.vit_image_size} does not fit in '
                             f'{self.crop_size}-pixel crops')
        self._dtype = torch.float32
        self._weights_dtype = torch.float32
        # Where the module lives, whatever its parts are: the backend interface's ``device``
        # (wilor_ros.backend) must not depend on one network's parameter names.
        self.register_buffer('_device_marker', torch.empty(0), persistent=False)

    @property
    def device(self):
        """Device of the module (weights, buffers and outputs)."""
        return self._device_marker.device

    @property
    def dtype(self):
        """Compute precision of the network layers (float32, float16 or bfloat16)."""
        return self._dtype

    @property
    def faces(self):
        """MANO triangles (F, 3) int64, right-hand winding."""
        return self.mano.faces_tensor.detach().cpu().numpy().astype(np.int64)

    def set_precision(self, precision):
        """
        Run the network layers in 'fp32' / 'tf32', 'fp16' or 'bf16'; MANO stays fp32.

        Lower precisions cast the Linear and convolution weights once, in place. Going back
        up (e.g. bf16 -> fp32) would keep the rounded weights, so it raises ValueError: load
        the checkpoint again instead.
        """
        dtype = compute_dtype(precision)
        if dtype != self._weights_dtype:
            if self._weights_dtype != torch.float32:
                raise ValueError(f'the weights are already cast to {self._weights_dtype}; '
                                 f'load the checkpoint again to run in {dtype}')
            cast_network_weights(self.backbone, dtype)
            cast_network_weights(self.refine_net, dtype)
            self._weights_dtype = dtype
        self._dtype = dtype
        return self

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self._dtype,
                              enabled=self._dtype != torch.float32)

    def model_input(self, img):
        """
        Check a crop batch (B, 3, 256, 256) and cut the ViT's 256x192 input from it.

        The official model reads the middle columns (``x[:, :, :, 32:-32]``) of the square crop.
        """
        img = torch.as_tensor(img, device=self.device, dtype=torch.float32)
        width = self.vit_image_size[1]
        if img.ndim != 4 or img.shape[2] != self.crop_size or img.shape[3] != self.crop_size:
            raise ValueError(f'expected crops of shape (B, C, {self.crop_size}, '
                             f'{self.crop_size}), got {tuple(img.shape)}')
        left = (self.crop_size - width) // 2
        return img[:, :, :, left:left + width]

    def run_backbone(self, img):
        """Run the ViT on crops (B, 3, 256, 256): mano_tokens, img_feat, pose6d, betas, cam."""
        x = self.model_input(img)
        with self._autocast():
            return self.backbone(x)

    def rotations(self, pose6d):
        """Decode (B, 16*6) 6-D poses in float32: global_orient (B, 1, 3, 3), hand_pose."""
        rotmats = rot6d_to_rotmat(pose6d.float().reshape(pose6d.shape[0], -1, 6))
        return rotmats[:, :1], rotmats[:, 1:]

    def run_heads(self, vit):
        """
        Everything after the ViT: coarse MANO, RefineNet, refined MANO, crop camera.

        ``vit`` is :meth:`run_backbone`'s dict. Returns the official outputs plus the
        coarse mesh and the RefineNet features and corrections.
        """
        vit_orient, vit_pose = self.rotations(vit['pose6d'])
        coarse_vertices, _ = self.mano(vit_orient, vit_pose, vit['betas'])
        with self._autocast():
            refine = self.refine_net(vit['img_feat'], coarse_vertices, vit['cam'],
                                     self.focal_length)
        pose6d = vit['pose6d'].float() + refine['delta_pose'].float()
        betas = vit['betas'].float() + refine['delta_betas'].float()
        cam = vit['cam'].float() + refine['delta_cam'].float()
        global_orient, hand_pose = self.rotations(pose6d)
        vertices, joints = self.mano(global_orient, hand_pose, betas)
        return {
            'pred_cam': cam, 'global_orient': global_orient, 'hand_pose': hand_pose,
            'betas': betas,
            'pred_cam_t': crop_camera_translation(cam, self.focal_length, self.crop_size),
            'pred_keypoints_3d': joints, 'pred_vertices': vertices,
            'pred_keypoints_2d': project_crop(joints, cam, self.focal_length, self.crop_size),
            'vit_global_orient': vit_orient, 'vit_hand_pose': vit_pose,
            'coarse_vertices': coarse_vertices,
            'refine_vert_feats': refine['vert_feats'],
            'refine_delta_pose': refine['delta_pose'],
            'refine_delta_betas': refine['delta_betas'],
            'refine_delta_cam': refine['delta_cam'],
        }

    def forward_detailed(self, img):
        """Return :meth:`forward`'s outputs plus ``vit_*``, ``coarse_*``, ``refine_*`` values."""
        vit = self.run_backbone(img)
        result = self.run_heads(vit)
        result.update({'vit_mano_tokens': vit['mano_tokens'], 'vit_img_feat': vit['img_feat'],
                       'vit_pose6d': vit['pose6d'], 'vit_betas': vit['betas'],
                       'vit_cam': vit['cam']})
        return result

    def forward(self, img):
        """
        Reconstruct hands from crops (B, 3, 256, 256), normalised as the official crops.

        Returns float32 tensors: pred_cam (B, 3) [s, tx, ty], global_orient (B, 1, 3, 3),
        hand_pose (B, 15, 3, 3), betas (B, 10), pred_cam_t (B, 3), pred_keypoints_3d
        (B, 21, 3) OpenPose order, pred_vertices (B, 778, 3), pred_keypoints_2d (B, 21, 2)
        in crop-normalised units (x 256 + 128 = crop pixels).
        """
        result = self.run_heads(self.run_backbone(img))
        return {key: result[key].float() for key in OUTPUT_KEYS}


def _load_module(module, state, prefix, source):
    """Copy ``prefix``-named tensors into ``module`` after checking names and shapes."""
    expected = module.state_dict()
    given = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    mismatched = [f'{prefix}{key} {tuple(given[key].shape)} (expected '
                  f'{tuple(expected[key].shape)})'
                  for key in expected if key in given and given[key].shape != expected[key].shape]
    problems = []
    if missing:
        problems.append('missing ' + ', '.join(prefix + key for key in missing))
    if unexpected:
        problems.append('unexpected ' + ', '.join(prefix + key for key in unexpected))
    if mismatched:
        problems.append('wrong shape ' + ', '.join(mismatched))
    if problems:
        raise CheckpointError(f'{source}: the {prefix[:-1]} weights do not fit the network '
                              f'inferred from the checkpoint: {"; ".join(problems)}')
    # assign=True: the checkpoint's tensors become the parameters, no second copy (the
    # modules were built on the meta device, without initialisation).
    module.load_state_dict({key: given[key].to(expected[key].dtype) for key in expected},
                           assign=True)


def _saved_constant(checkpoint, path, default):
    # The official forward reads these from the saved yacs config; the restricted reader
    # returns it as a plain dict.
    node = checkpoint.get('hyper_parameters', {}) if isinstance(checkpoint, dict) else {}
    node = node.get('cfg', {}) if isinstance(node, dict) else {}
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, (int, float)) and not isinstance(node, bool) else default


def build_from_state_dict(state, source='state dict', mano_path=None, num_heads=None,
                          focal_length=CROP_FOCAL_LENGTH, crop_size=CROP_SIZE):
    """
    Build a :class:`WiLoR` from an official ``state_dict`` (every size from tensor shapes).

    ``mano_path``: take the MANO model from a ``MANO_RIGHT.pkl`` instead of the checkpoint's
    ``mano.*`` buffers. Raises :class:`CheckpointError` naming ``source`` when tensors are
    missing, unexpected or of the wrong shape.
    """
    known = ('backbone.', 'refine_net.', 'mano.') + _IGNORED_PREFIXES
    foreign = [key for key in state
               if not key.startswith(known) and key not in _IGNORED_KEYS]
    if foreign:
        raise CheckpointError(f'{source}: unexpected tensors {", ".join(foreign[:8])} (a '
                              'WiLoR state_dict holds backbone.*, refine_net.*, mano.*)')
    try:
        vit_dims = vit_dims_from_state_dict(state, num_heads=num_heads)
        refine_dims = refine_dims_from_state_dict(state)
    except (KeyError, ValueError) as error:
        raise CheckpointError(f'{source}: not a WiLoR network: {error.args[0]}') from None
    if refine_dims['feat_dim'] != vit_dims['embed_dim']:
        raise CheckpointError(f'{source}: RefineNet expects {refine_dims["feat_dim"]} '
                              f'channels but the ViT is {vit_dims["embed_dim"]} wide')
    try:
        # On the meta device: no memory and no random initialisation (4.5 s for ViT-H on a
        # CPU) for weights the checkpoint overwrites anyway.
        with torch.device('meta'):
            backbone = WiLoRViT(**vit_dims)
            refine_net = RefineNet(**refine_dims)
    except ValueError as error:
        raise CheckpointError(f'{source}: {error} (pass num_heads to override)') from None
    _load_module(backbone, state, 'backbone.', source)
    _load_module(refine_net, state, 'refine_net.', source)

    if mano_path is not None:
        mano_source = f'MANO model file {mano_path}'
        buffers = mano_buffers_from_pickle(mano_path, num_betas=vit_dims['num_betas'])
    else:
        mano_source = source
        extra = [key for key in state if key.startswith('mano.')
                 and key[len('mano.'):] not in MANO_BUFFERS + UNUSED_MANO_BUFFERS]
        if extra:
            raise CheckpointError(f'{source}: unexpected MANO tensors {", ".join(extra)}')
        try:
            buffers = mano_buffers_from_state_dict(state)
        except KeyError as error:
            raise CheckpointError(f'{source}: no MANO model: {error.args[0]} (pass '
                                  'mano_path=MANO_RIGHT.pkl to supply it)') from None
    try:
        mano = MANOLayer(**buffers)
    except ValueError as error:
        raise CheckpointError(f'{mano_source}: {error}') from None
    if mano.num_betas != vit_dims['num_betas'] or mano.num_joints != vit_dims['num_pose_tokens']:
        raise CheckpointError(
            f'{mano_source}: MANO has {mano.num_joints} joints and {mano.num_betas} shape '
            f'components, the network predicts {vit_dims["num_pose_tokens"]} and '
            f'{vit_dims["num_betas"]}')
    if refine_dims['pose_dim'] != vit_dims['num_pose_tokens'] * vit_dims['rot_dim']:
        raise CheckpointError(f'{source}: RefineNet pose head of {refine_dims["pose_dim"]} '
                              'values does not match the ViT pose tokens')
    return WiLoR(backbone, refine_net, mano, focal_length=focal_length, crop_size=crop_size)


def load_reconstructor(ckpt_path, device='cpu', mano_path=None, num_heads=None,
                       dtype=torch.float32):
    """
    Load the official WiLoR checkpoint (``wilor_final.ckpt``) for inference.

    ``device``: any torch device; ``dtype``: float32, float16 or bfloat16 (or 'fp32', 'tf32',
    'fp16', 'bf16'; 'auto': :func:`wilor_ros.precision.resolve_precision`) for the network
    layers; ``num_heads`` overrides the ViT head count (default
    width // 80, as ViT-H); ``mano_path`` supplies MANO from a ``MANO_RIGHT.pkl``. Returns a
    :class:`WiLoR` in eval mode without gradients. Raises :class:`CheckpointError` (a
    ValueError) naming the file when it is missing, damaged or not a WiLoR checkpoint.
    """
    from wilor_ros.precision import resolve_precision
    precision = compute_dtype(resolve_precision(dtype, device))
    source = f'WiLoR checkpoint file {ckpt_path}'
    checkpoint = load_checkpoint(ckpt_path, kind='WiLoR checkpoint')
    state = checkpoint.get('state_dict') if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        found = sorted(map(str, checkpoint))[:8] if isinstance(checkpoint, dict) else [
            type(checkpoint).__name__]
        raise CheckpointError(f'{source} is not a WiLoR checkpoint: expected a Lightning '
                              f'checkpoint with a state_dict of tensors (like '
                              f'wilor_final.ckpt), found {", ".join(found)}')
    model = build_from_state_dict(
        state, source, mano_path=mano_path, num_heads=num_heads,
        focal_length=_saved_constant(checkpoint, ('EXTRA', 'FOCAL_LENGTH'),
                                     CROP_FOCAL_LENGTH),
        crop_size=_saved_constant(checkpoint, ('MODEL', 'IMAGE_SIZE'), CROP_SIZE))
    del checkpoint, state
    model.requires_grad_(False)
    model = model.eval().to(device).set_precision(precision)
    release_freed_memory()
    return model
