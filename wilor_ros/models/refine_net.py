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
WiLoR's RefineNet: corrects the ViT's MANO estimate with image features sampled at the mesh.

The ViT patch map is turned into a small feature pyramid (a 1x1 convolution, then transposed
convolution branches that upsample it 2x and 4x); the coarse MANO vertices are projected into
each map, features are sampled at every vertex and max-pooled over the mesh, and linear heads
predict corrections to the pose (6-D), shape and camera. Facts follow the official
``refinement_net.py`` of WiLoR (commit 819369a); widths are read from checkpoint shapes by
:func:`refine_dims_from_state_dict`.
"""

import torch
from torch import nn
import torch.nn.functional as F


def _deconv_branch(widths):
    # Official make_deconv_layers: ConvTranspose2d(k4, s2, p1, no bias) + BN + ReLU per step,
    # each doubling the resolution.
    layers = []
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [nn.ConvTranspose2d(width_in, width_out, kernel_size=4, stride=2, padding=1,
                                      bias=False),
                   nn.BatchNorm2d(width_out),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class DeConvNet(nn.Module):
    """Feature pyramid from the ViT map: 1x1 projection plus upsampling branches."""

    def __init__(self, feat_dim=1280, first_dim=640, branch_widths=((320,), (320, 160))):
        super().__init__()
        # Official make_conv_layers with a single 1x1 conv and no final BN/ReLU.
        self.first_conv = nn.Sequential(nn.Conv2d(feat_dim, first_dim, kernel_size=1))
        self.deconv = nn.ModuleList(
            [_deconv_branch((first_dim,) + tuple(widths)) for widths in branch_widths])

    def forward(self, img_feat):
        """Return the maps from the highest to the lowest resolution (64x48, 32x24, 16x12)."""
        projected = self.first_conv(img_feat)
        maps = [projected] + [branch(projected) for branch in self.deconv]
        return maps[::-1]


def crop_camera_translation(cam, focal_length, size):
    """
    Turn the weak-perspective camera [s, tx, ty] (B, 3) into a translation (B, 3).

    (tx, ty, 2 f / (size * s + 1e-9)): the depth at which a hand of scale s fills a
    ``size``-pixel image seen with focal ``f`` (official ``pred_cam_t``).
    """
    depth = 2 * focal_length / (size * cam[:, 0] + 1e-9)
    return torch.stack([cam[:, 1], cam[:, 2], depth], dim=-1)


def project_crop(points, cam, focal_length, size):
    """
    Project MANO-frame points (B, V, 3) into a square image of side ``size`` pixels.

    The points are moved by :func:`crop_camera_translation` and projected with focal
    f / size and a zero principal point, i.e. in units of the image side, centred (the
    official ``perspective_projection`` with those arguments).
    """
    points = points + crop_camera_translation(cam, focal_length, size)[:, None]
    return (focal_length / size) * (points[..., :2] / points[..., 2:3])


def sample_vertex_features(feature_map, points_2d):
    """
    Bilinearly sample feature_map (B, C, H, W) at points_2d (B, V, 2) given in map pixels.

    Returns (B, V, C); points outside the map read zeros.
    """
    height, width = feature_map.shape[2:]
    grid_x = points_2d[..., 0] / (width - 1) * 2 - 1
    grid_y = points_2d[..., 1] / (height - 1) * 2 - 1
    grid = torch.stack([grid_x, grid_y], dim=-1)[:, :, None]
    sampled = F.grid_sample(feature_map, grid, mode='bilinear', padding_mode='zeros',
                            align_corners=True)
    return sampled[..., 0].transpose(1, 2)


class RefineNet(nn.Module):
    """
    Vertex-feature refinement of the MANO pose, shape and camera.

    Parameter names equal the official ``refine_net.*`` names. Defaults are the released
    sizes (feat_dim 1280).
    """

    def __init__(self, feat_dim=1280, first_dim=640, branch_widths=((320,), (320, 160)),
                 pose_dim=96, num_betas=10, cam_dim=3):
        super().__init__()
        self.deconv = DeConvNet(feat_dim, first_dim, branch_widths)
        out_dim = first_dim + sum(widths[-1] for widths in branch_widths)
        self.dec_pose = nn.Linear(out_dim, pose_dim)
        self.dec_cam = nn.Linear(out_dim, cam_dim)
        self.dec_shape = nn.Linear(out_dim, num_betas)

    def vertex_features(self, img_feat, vertices, cam, focal_length):
        """
        Pool the pyramid's features over the mesh: (B, out_dim), high-resolution maps first.

        QUIRK kept for weight compatibility: the official code projects the vertices with
        focal f / S and zero principal point, which gives crop-normalised coordinates of about
        [-0.5, 0.5], and then uses those numbers directly as *pixel* coordinates of the S-row
        map (normalised by W - 1 and S - 1, align_corners=True). Every vertex therefore
        samples the neighbourhood of pixel (0, 0), mostly its zero-padded border. The released
        weights were trained with exactly this sampling, so it is reproduced unchanged;
        "fixing" it would feed the heads features they never saw.
        """
        pooled = []
        for feature_map in self.deconv(img_feat):
            size = feature_map.shape[2]
            # Sampling positions need more precision than fp16/bf16 give near pixel 0.
            points = project_crop(vertices.float(), cam.float(), focal_length, size)
            features = sample_vertex_features(feature_map.float(), points)
            pooled.append(features.max(dim=1).values)
        return torch.cat(pooled, dim=-1)

    def forward(self, img_feat, vertices, cam, focal_length):
        """
        Predict corrections from the ViT map (B, D, Hp, Wp) and coarse vertices (B, V, 3).

        ``cam`` is the ViT's weak-perspective camera, ``focal_length`` the crop camera's focal
        (official 5000 for a 256-pixel crop). Returns a dict: vert_feats, delta_pose,
        delta_betas, delta_cam.
        """
        feats = self.vertex_features(img_feat, vertices, cam, focal_length)
        return {'vert_feats': feats, 'delta_pose': self.dec_pose(feats),
                'delta_betas': self.dec_shape(feats), 'delta_cam': self.dec_cam(feats)}


def refine_dims_from_state_dict(state, prefix='refine_net.'):
    """Read the :class:`RefineNet` constructor arguments from a state dict's tensor shapes."""
    name = prefix + 'deconv.first_conv.0.weight'
    if name not in state:
        raise KeyError(f'missing tensor {name!r}')
    first_dim, feat_dim = state[name].shape[:2]
    branch_widths = []
    while f'{prefix}deconv.deconv.{len(branch_widths)}.0.weight' in state:
        branch = f'{prefix}deconv.deconv.{len(branch_widths)}.'
        widths = []
        # Each step is (ConvTranspose2d, BatchNorm2d, ReLU): convolutions sit at 0, 3, 6, ...
        while f'{branch}{3 * len(widths)}.weight' in state:
            widths.append(state[f'{branch}{3 * len(widths)}.weight'].shape[1])
        branch_widths.append(tuple(widths))
    dims = {'feat_dim': feat_dim, 'first_dim': first_dim, 'branch_widths': tuple(branch_widths)}
    for key, head in (('pose_dim', 'dec_pose'), ('num_betas', 'dec_shape'),
                      ('cam_dim', 'dec_cam')):
        name = f'{prefix}{head}.weight'
        if name not in state:
            raise KeyError(f'missing tensor {name!r}')
        dims[key] = state[name].shape[0]
    return dims
