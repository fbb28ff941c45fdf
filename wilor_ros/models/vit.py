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
WiLoR's ViT backbone: a ViTPose-style ViT that also carries MANO parameter tokens.

Besides the 16x12 image patches, the transformer sees 16 pose tokens, 1 shape token and 1 camera
token embedded from the MANO mean parameters. After the last block these 18 tokens are read out
linearly as corrections to the mean parameters (the coarse hand), and the patch tokens are
returned as a feature map for the RefineNet. Facts follow the official ``vit.py`` of WiLoR
(commit 819369a); every size is a constructor argument and :func:`vit_dims_from_state_dict`
reads them from checkpoint shapes.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F

# The official model always sees 256x192 crops (the middle columns of a 256x256 crop).
OFFICIAL_IMAGE_SIZE = (256, 192)
# Official ViT-H head width: 1280 / 16 heads; used to guess the head count from the width.
OFFICIAL_HEAD_DIM = 80


class PatchEmbed(nn.Module):
    """Patch embedding: one strided convolution, output flattened to tokens (B, N, D)."""

    def __init__(self, in_chans=3, embed_dim=1280, patch_size=16, stride=16, padding=2):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride,
                              padding=padding)

    def forward(self, x):
        """Return tokens (B, Hp*Wp, D) in row-major patch order and the grid size (Hp, Wp)."""
        x = self.proj(x)
        grid = x.shape[2:]
        return x.flatten(2).transpose(1, 2), tuple(grid)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'width {dim} is not divisible by {num_heads} heads')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        """Attend over all tokens (B, N, D)."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # SDPA's default scale head_dim ** -0.5 is the official qk scale.
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    """Transformer feed-forward block: Linear, exact (erf) GELU, Linear."""

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        """Apply the MLP token-wise."""
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (stochastic depth of training is inactive at inference)."""

    def __init__(self, dim, num_heads, mlp_hidden_dim, qkv_bias=True, norm_eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, mlp_hidden_dim)

    def forward(self, x):
        """Residual attention, then residual MLP."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class WiLoRViT(nn.Module):
    """
    ViT over [pose tokens | shape token | camera token | patches] with MANO read-out heads.

    Parameter names equal the official ``backbone.*`` names, so a checkpoint's sub-dict loads
    with ``load_state_dict``. The defaults are the released ViT-H/16 sizes.
    """

    def __init__(self, embed_dim=1280, depth=32, num_heads=16, mlp_hidden_dim=5120,
                 qkv_bias=True, in_chans=3, patch_size=16, patch_stride=16, patch_padding=2,
                 num_patches=192, num_pose_tokens=16, rot_dim=6, num_betas=10, cam_dim=3,
                 norm_eps=1e-6):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_pose_tokens = num_pose_tokens
        self.rot_dim = rot_dim
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size, patch_stride,
                                      patch_padding)
        # Index 0 of the official table is a class-token slot that is added to every patch
        # instead (the official "fit for multiple GPU training" line); MANO tokens get none.
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.register_buffer('init_hand_pose', torch.zeros(1, num_pose_tokens * rot_dim))
        self.register_buffer('init_betas', torch.zeros(1, num_betas))
        self.register_buffer('init_cam', torch.zeros(1, cam_dim))
        self.pose_emb = nn.Linear(rot_dim, embed_dim)
        self.shape_emb = nn.Linear(num_betas, embed_dim)
        self.cam_emb = nn.Linear(cam_dim, embed_dim)
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_hidden_dim, qkv_bias, norm_eps)
            for _ in range(depth)])
        self.last_norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.decpose = nn.Linear(embed_dim, rot_dim)
        self.decshape = nn.Linear(embed_dim, num_betas)
        self.deccam = nn.Linear(embed_dim, cam_dim)

    @property
    def num_mano_tokens(self):
        """Pose tokens + 1 shape token + 1 camera token (18 for MANO)."""
        return self.num_pose_tokens + 2

    def mano_tokens_in(self, batch):
        """Return the input MANO tokens (B, 18, D) embedded from the mean parameters."""
        pose = self.pose_emb(self.init_hand_pose.reshape(1, self.num_pose_tokens, self.rot_dim))
        shape = self.shape_emb(self.init_betas)[:, None]
        cam = self.cam_emb(self.init_cam)[:, None]
        return torch.cat([pose, shape, cam], dim=1).expand(batch, -1, -1)

    def encode(self, x):
        """
        Run the transformer on images (B, C, 256, 192).

        Returns the MANO tokens (B, 18, D) and the patch feature map (B, D, Hp, Wp), both
        after ``last_norm``.
        """
        patches, (grid_h, grid_w) = self.patch_embed(x)
        patches = patches + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        tokens = torch.cat([self.mano_tokens_in(x.shape[0]).to(patches.dtype), patches], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.last_norm(tokens)
        count = self.num_mano_tokens
        image = tokens[:, count:].reshape(x.shape[0], grid_h, grid_w, self.embed_dim)
        return tokens[:, :count], image.permute(0, 3, 1, 2)

    def read_out(self, mano_tokens):
        """
        Decode the MANO tokens as offsets from the mean parameters.

        Returns pose (B, 16*6) 6-D rotations, betas (B, 10), weak-perspective camera (B, 3).
        """
        batch = mano_tokens.shape[0]
        count = self.num_pose_tokens
        pose = self.decpose(mano_tokens[:, :count]).reshape(batch, -1) + self.init_hand_pose
        betas = self.decshape(mano_tokens[:, count]) + self.init_betas
        cam = self.deccam(mano_tokens[:, count + 1]) + self.init_cam
        return pose, betas, cam

    def forward(self, x):
        """Return a dict: mano_tokens, img_feat, pose6d, betas, cam (the ViT read-out)."""
        mano_tokens, img_feat = self.encode(x)
        pose, betas, cam = self.read_out(mano_tokens)
        return {'mano_tokens': mano_tokens, 'img_feat': img_feat, 'pose6d': pose,
                'betas': betas, 'cam': cam}


def _shape(state, name):
    if name not in state:
        raise KeyError(f'missing tensor {name!r}')
    return tuple(state[name].shape)


def vit_dims_from_state_dict(state, prefix='backbone.', num_heads=None,
                             image_size=OFFICIAL_IMAGE_SIZE):
    """
    Read the :class:`WiLoRViT` constructor arguments from a state dict's tensor shapes.

    ``num_heads`` cannot be seen in the weights; by default it keeps the official head width
    of 80 (ViT-H: 1280 -> 16 heads). The patch stride and padding follow the official
    ``PatchEmbed`` rule from the ratio between the positional table and the plain patch grid:
    stride = patch // ratio, padding = 4 + 2 * (ratio // 2 - 1) (ratio 1: stride 16, padding 2).
    """
    embed_dim, in_chans, patch_h, patch_w = _shape(state, prefix + 'patch_embed.proj.weight')
    if patch_h != patch_w:
        raise ValueError(f'non-square patches {patch_h}x{patch_w} are not supported')
    depth = 0
    while f'{prefix}blocks.{depth}.norm1.weight' in state:
        depth += 1
    if depth == 0:
        raise KeyError(f'missing tensor {prefix}blocks.0.norm1.weight')
    mlp_hidden_dim = _shape(state, prefix + 'blocks.0.mlp.fc1.weight')[0]
    num_patches = _shape(state, prefix + 'pos_embed')[1] - 1
    plain_grid = (image_size[0] // patch_h) * (image_size[1] // patch_h)
    ratio = math.isqrt(num_patches // plain_grid) if num_patches % plain_grid == 0 else 0
    if ratio < 1 or ratio * ratio * plain_grid != num_patches:
        raise ValueError(f'{num_patches} positional embeddings do not fit a {patch_h}-pixel '
                         f'patch grid on {image_size[0]}x{image_size[1]} images')
    rot_dim = _shape(state, prefix + 'pose_emb.weight')[1]
    if rot_dim != 6:
        raise ValueError(f'pose tokens of {rot_dim} values; only the 6-D rotation '
                         'representation of the released model is supported')
    pose_values = _shape(state, prefix + 'init_hand_pose')[-1]
    if num_heads is None:
        num_heads = max(1, embed_dim // OFFICIAL_HEAD_DIM)
    return {
        'embed_dim': embed_dim, 'depth': depth, 'num_heads': num_heads,
        'mlp_hidden_dim': mlp_hidden_dim,
        'qkv_bias': prefix + 'blocks.0.attn.qkv.bias' in state,
        'in_chans': in_chans, 'patch_size': patch_h, 'patch_stride': patch_h // ratio,
        'patch_padding': 4 + 2 * (ratio // 2 - 1), 'num_patches': num_patches,
        'num_pose_tokens': pose_values // rot_dim, 'rot_dim': rot_dim,
        'num_betas': _shape(state, prefix + 'init_betas')[-1],
        'cam_dim': _shape(state, prefix + 'init_cam')[-1],
    }
