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
The MANO right-hand layer as WiLoR runs it (smplx's ``MANOLayer`` + WiLoR's joint wrapper).

Built directly from tensors: either the ``mano.*`` buffers stored in the WiLoR checkpoint, or
a ``MANO_RIGHT.pkl`` converted exactly as smplx 0.1.28 converts it. Skinning is
smplx's linear blend skinning with rotation matrices (``lbs(pose2rot=False)``, the same
arithmetic in the same order): no hand mean is added, no PCA, no translation. Unlike smplx, the
kinematic chain is walked with Python ints and the parent gather uses a device index, so a
forward pass reads nothing on the host (no GPU synchronisation, capturable in a CUDA graph).
The 16 skeleton joints are extended with five fingertip vertices and reordered to the OpenPose
hand order.
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from wilor_ros.models.mano_pickle import load_mano_pickle, MANOPickleError
from wilor_ros.skeleton import MANO_TO_OPENPOSE

# smplx ``vertex_ids['mano']``: thumb, index, middle, ring, pinky tip vertices.
FINGERTIP_VERTICES = (744, 320, 443, 554, 671)

# Checkpoint buffer names the layer is built from (the official ``mano.*`` names).
MANO_BUFFERS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'parents',
                'lbs_weights', 'faces_tensor', 'extra_joints_idxs', 'joint_map')
# Official ``mano.*`` buffers the forward pass never reads (PCA hand space, hand mean, and
# smplx's own copy of the fingertip ids).
UNUSED_MANO_BUFFERS = ('hand_components', 'hand_mean', 'pose_mean',
                       'vertex_joint_selector.extra_joints_idxs')


class MANOLayer(nn.Module):
    """
    MANO skinning from rotation matrices, 21 OpenPose-ordered joints.

    Buffers keep the official ``mano.*`` names and layouts: ``v_template`` (V, 3),
    ``shapedirs`` (V, 3, betas), ``posedirs`` (9 * (J - 1), 3 * V), ``J_regressor`` (J, V),
    ``parents`` (J,), ``lbs_weights`` (V, J), ``faces_tensor`` (F, 3), ``extra_joints_idxs``,
    ``joint_map``.
    """

    def __init__(self, v_template, shapedirs, posedirs, J_regressor, parents, lbs_weights,
                 faces_tensor, extra_joints_idxs=FINGERTIP_VERTICES,
                 joint_map=MANO_TO_OPENPOSE):
        super().__init__()
        float_buffers = {'v_template': v_template, 'shapedirs': shapedirs,
                         'posedirs': posedirs, 'J_regressor': J_regressor,
                         'lbs_weights': lbs_weights}
        for name, value in float_buffers.items():
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))
        for name, value in (('parents', parents), ('faces_tensor', faces_tensor),
                            ('extra_joints_idxs', extra_joints_idxs),
                            ('joint_map', joint_map)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.int64))
        # The chain is walked with these Python ints: indexing by a device tensor would read it
        # on the host (a GPU synchronisation per joint) and break graph capture.
        self._parent_list = tuple(int(p) for p in np.asarray(parents).reshape(-1))
        self._check_shapes()

    def _check_shapes(self):
        verts = self.v_template.shape[0]
        joints = self.J_regressor.shape[0]
        expected = {
            'v_template': (verts, 3),
            'shapedirs': (verts, 3, self.shapedirs.shape[-1]),
            'posedirs': (9 * (joints - 1), 3 * verts),
            'J_regressor': (joints, verts),
            'parents': (joints,),
            'lbs_weights': (verts, joints),
            'faces_tensor': (self.faces_tensor.shape[0], 3),
        }
        for name, shape in expected.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f'MANO {name} has shape {tuple(getattr(self, name).shape)}, '
                                 f'expected {shape} for {verts} vertices and {joints} joints')
        if self.extra_joints_idxs.numel() and int(self.extra_joints_idxs.max()) >= verts:
            raise ValueError('MANO extra_joints_idxs point past the last vertex')
        if int(self.joint_map.max()) >= joints + self.extra_joints_idxs.numel():
            raise ValueError('MANO joint_map points past the last joint')

    @property
    def num_betas(self):
        """Return the number of shape coefficients the layer takes."""
        return self.shapedirs.shape[-1]

    @property
    def num_joints(self):
        """Return the number of skeleton joints including the root (16 for MANO)."""
        return self.J_regressor.shape[0]

    def forward(self, global_orient, hand_pose, betas):
        """
        Pose and shape the hand.

        ``global_orient`` (B, 1, 3, 3), ``hand_pose`` (B, 15, 3, 3) rotation matrices relative
        to the parent joint, ``betas`` (B, 10). Returns vertices (B, V, 3) and joints
        (B, 21, 3), metres, MANO frame; always computed in float32.
        """
        batch = betas.shape[0]
        # Skinning sums many small offsets: keep it in float32 even inside an autocast region.
        with torch.autocast(device_type=betas.device.type, enabled=False):
            full_pose = torch.cat([global_orient.float().reshape(batch, -1, 3, 3),
                                   hand_pose.float().reshape(batch, -1, 3, 3)], dim=1)
            vertices, joints = self._skin(betas.float(), full_pose)
            tips = torch.index_select(vertices, 1, self.extra_joints_idxs)
            joints = torch.cat([joints, tips], dim=1)[:, self.joint_map]
        return vertices, joints

    def _skin(self, betas, rotations):
        """Linear blend skinning (smplx ``lbs`` with ``pose2rot=False``): vertices, joints."""
        batch = betas.shape[0]
        shaped = self.v_template + torch.einsum('bl,mkl->bmk', betas, self.shapedirs)
        rest_joints = torch.einsum('bik,ji->bjk', shaped, self.J_regressor)
        identity = torch.eye(3, dtype=betas.dtype, device=betas.device)
        pose_feature = (rotations[:, 1:] - identity).reshape(batch, -1)
        posed = torch.matmul(pose_feature, self.posedirs).reshape(batch, -1, 3) + shaped
        posed_joints, relative = self._rigid_transforms(rotations, rest_joints)
        joints = self.J_regressor.shape[0]
        weights = self.lbs_weights.unsqueeze(0).expand(batch, -1, -1)
        transforms = torch.matmul(weights, relative.reshape(batch, joints, 16)
                                  ).reshape(batch, -1, 4, 4)
        ones = torch.ones((batch, posed.shape[1], 1), dtype=betas.dtype, device=betas.device)
        homogeneous = torch.cat([posed, ones], dim=2)
        vertices = torch.matmul(transforms, homogeneous.unsqueeze(-1))[:, :, :3, 0]
        return vertices, posed_joints

    def _rigid_transforms(self, rotations, joints):
        """Posed joints (B, J, 3) and joint transforms relative to the rest pose (B, J, 4, 4)."""
        joints = joints.unsqueeze(-1)
        relative_joints = torch.cat(
            [joints[:, :1], joints[:, 1:] - joints.index_select(1, self.parents[1:])], dim=1)
        local = torch.cat([F.pad(rotations, [0, 0, 0, 1]),
                           F.pad(relative_joints, [0, 0, 0, 1], value=1.0)], dim=3)
        chain = [local[:, 0]]
        for joint in range(1, len(self._parent_list)):
            chain.append(torch.matmul(chain[self._parent_list[joint]], local[:, joint]))
        transforms = torch.stack(chain, dim=1)
        posed_joints = transforms[:, :, :3, 3]
        joints_homogeneous = F.pad(joints, [0, 0, 0, 1])
        relative = transforms - F.pad(torch.matmul(transforms, joints_homogeneous),
                                      [3, 0, 0, 0, 0, 0, 0, 0])
        return posed_joints, relative


def mano_buffers_from_state_dict(state, prefix='mano.'):
    """Pick the layer's buffers out of a WiLoR state dict (KeyError names a missing one)."""
    buffers = {}
    for name in MANO_BUFFERS:
        if prefix + name not in state:
            raise KeyError(f'missing tensor {prefix + name!r}')
        buffers[name] = state[prefix + name]
    return buffers


def mano_buffers_from_pickle(path, num_betas=10):
    """
    Convert a ``MANO_RIGHT.pkl`` into the layer's buffers, as smplx 0.1.28 does.

    shapedirs keeps the first ``num_betas`` components, posedirs (V, 3, P) becomes (P, 3V),
    the sparse regressor is densified, parents = kintree_table[0] with the root set to -1,
    faces become int64; float arrays are cast to float32.
    """
    model = load_mano_pickle(path)
    required = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'kintree_table',
                'weights', 'f')
    missing = [key for key in required if key not in model]
    if missing:
        raise MANOPickleError(f'MANO model file {path} lacks {", ".join(missing)}; expected '
                              'the MANO_RIGHT.pkl of MANO v1.2')
    shapedirs = np.asarray(model['shapedirs'])
    if shapedirs.ndim != 3 or shapedirs.shape[-1] < num_betas:
        raise MANOPickleError(f'MANO model file {path}: shapedirs of shape {shapedirs.shape} '
                              f'has fewer than {num_betas} shape components')
    posedirs = np.asarray(model['posedirs'])
    parents = np.asarray(model['kintree_table'])[0].astype(np.int64)
    parents[0] = -1

    def as_float(array):
        return torch.from_numpy(np.ascontiguousarray(array).astype(np.float32))

    return {
        'v_template': as_float(model['v_template']),
        'shapedirs': as_float(shapedirs[:, :, :num_betas]),
        'posedirs': as_float(posedirs.reshape(-1, posedirs.shape[-1]).T),
        'J_regressor': as_float(model['J_regressor']),
        'parents': torch.from_numpy(parents),
        'lbs_weights': as_float(model['weights']),
        'faces_tensor': torch.from_numpy(np.asarray(model['f']).astype(np.int64)),
        'extra_joints_idxs': torch.tensor(FINGERTIP_VERTICES, dtype=torch.int64),
        'joint_map': torch.tensor(MANO_TO_OPENPOSE, dtype=torch.int64),
    }
