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
YOLOv8-pose network (the WiLoR hand detector) in plain torch.

Layer graph and block definitions follow ultralytics ``yolov8-pose.yaml`` (8.1.x): a CSP-Darknet
backbone of ``C2f`` stages ending in ``SPPF``, a PAN neck (top-down then bottom-up), and a
``Pose`` head with, per stride level, a box branch (DFL distance bins), a class branch and a
keypoint branch. Every size is a constructor argument collected in :class:`YoloPoseConfig`,
which :func:`infer_config` reads from the checkpoint's tensor shapes, so the same code runs the
released YOLOv8m-pose detector and the small parity fixture.

Loading the ultralytics checkpoint's weights: :mod:`wilor_ros.models.yolo_pose_checkpoint`.
"""

import dataclasses

import torch
from torch import nn
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class YoloPoseConfig:
    """
    Sizes of a YOLOv8-pose network.

    ``widths`` are the output channels of the five stride-2 backbone convolutions (ultralytics
    layers 0, 1, 3, 5, 7; the ``C2f`` stage after each keeps its width). ``neck_widths`` are the
    output channels of neck layers 12, 15, 16, 18, 19, 21. Depths count bottlenecks per ``C2f``.
    """

    widths: tuple = (16, 32, 64, 128, 256)
    backbone_depths: tuple = (1, 2, 2, 1)
    neck_widths: tuple = (128, 64, 64, 128, 128, 256)
    neck_depths: tuple = (1, 1, 1, 1)
    in_channels: int = 3
    num_classes: int = 2
    keypoint_shape: tuple = (21, 3)
    reg_max: int = 16
    box_hidden: int = 64
    cls_hidden: int = 64
    kpt_hidden: int = 63
    sppf_kernel: int = 5
    strides: tuple = (8.0, 16.0, 32.0)
    # yolov8 yaml: backbone C2f(shortcut=True), neck C2f(shortcut=False); not visible in shapes.
    backbone_shortcut: bool = True
    neck_shortcut: bool = False

    @property
    def num_keypoint_values(self):
        """Channels of the keypoint branch (keypoints x values per keypoint)."""
        return self.keypoint_shape[0] * self.keypoint_shape[1]


class ConvBnSiLU(nn.Module):
    """Ultralytics ``Conv``: Conv2d (no bias, same padding) + BatchNorm2d + SiLU."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding=kernel_size // 2, bias=False)
        # eps 1e-3 is ultralytics' BatchNorm2d setting; the running stats were fitted with it.
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-3)

    def forward(self, x):
        """Apply conv, batch norm (identity once fused) and SiLU."""
        return F.silu(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse_batchnorm(self):
        """Fold the batch norm into the convolution (same arithmetic as ultralytics ``fuse``)."""
        if isinstance(self.bn, nn.Identity):
            return
        conv, bn = self.conv, self.bn
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          padding=conv.padding, bias=True).to(conv.weight.device)
        scale = bn.weight.div(torch.sqrt(bn.eps + bn.running_var))
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        shift = bn.weight.mul(bn.running_mean).div(torch.sqrt(bn.running_var + bn.eps))
        fused.bias.copy_(bn.bias - shift)
        fused.requires_grad_(False)
        self.conv = fused
        self.bn = nn.Identity()


class Bottleneck(nn.Module):
    """Two 3x3 convolutions with an optional residual connection."""

    def __init__(self, channels, shortcut):
        super().__init__()
        self.cv1 = ConvBnSiLU(channels, channels, 3)
        self.cv2 = ConvBnSiLU(channels, channels, 3)
        self.shortcut = shortcut

    def forward(self, x):
        """Run both convolutions and add the input when this is a residual block."""
        y = self.cv2(self.cv1(x))
        return x + y if self.shortcut else y


class C2f(nn.Module):
    """CSP block: split a 1x1 projection in two, chain bottlenecks on one half, concat all."""

    def __init__(self, in_channels, out_channels, depth, shortcut):
        super().__init__()
        hidden = out_channels // 2
        self.cv1 = ConvBnSiLU(in_channels, 2 * hidden, 1)
        self.m = nn.ModuleList(Bottleneck(hidden, shortcut) for _ in range(depth))
        self.cv2 = ConvBnSiLU((2 + depth) * hidden, out_channels, 1)

    def forward(self, x):
        """Concatenate both halves and every bottleneck output, then project."""
        parts = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling (fast): three chained max pools, concatenated."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        hidden = in_channels // 2
        self.cv1 = ConvBnSiLU(in_channels, hidden, 1)
        self.cv2 = ConvBnSiLU(4 * hidden, out_channels, 1)
        self.kernel_size = kernel_size

    def forward(self, x):
        """Pool three times with stride 1 and concatenate with the unpooled map."""
        parts = [self.cv1(x)]
        for _ in range(3):
            parts.append(F.max_pool2d(parts[-1], self.kernel_size, 1, self.kernel_size // 2))
        return self.cv2(torch.cat(parts, 1))


def _branch(in_channels, hidden, out_channels):
    return nn.Sequential(ConvBnSiLU(in_channels, hidden, 3), ConvBnSiLU(hidden, hidden, 3),
                         nn.Conv2d(hidden, out_channels, 1))


class PoseHead(nn.Module):
    """Per-level box (DFL bins), class and keypoint branches (ultralytics ``Pose``)."""

    def __init__(self, level_channels, config):
        super().__init__()
        self.reg_max = config.reg_max
        self.num_classes = config.num_classes
        self.keypoint_shape = tuple(config.keypoint_shape)
        self.strides = tuple(float(s) for s in config.strides)
        self.box = nn.ModuleList(_branch(c, config.box_hidden, 4 * config.reg_max)
                                 for c in level_channels)
        self.cls = nn.ModuleList(_branch(c, config.cls_hidden, config.num_classes)
                                 for c in level_channels)
        self.kpt = nn.ModuleList(_branch(c, config.kpt_hidden, config.num_keypoint_values)
                                 for c in level_channels)
        # The DFL expectation weights (0..reg_max-1), stored in the checkpoint as a 1x1 conv.
        self.register_buffer('dfl_bins', torch.arange(config.reg_max, dtype=torch.float32)
                             .view(1, config.reg_max, 1, 1))
        self._anchor_cache = {}

    def forward(self, features):
        """Return per-level maps: (box bins + class logits) and keypoint values."""
        box_cls = [torch.cat((self.box[i](x), self.cls[i](x)), 1) for i, x in enumerate(features)]
        keypoints = [self.kpt[i](x) for i, x in enumerate(features)]
        return box_cls, keypoints

    def anchors(self, maps):
        """Anchor centres (2, A) in grid units and their strides (1, A) for these map sizes."""
        if torch.compiler.is_compiling() or _capturing():
            # Traced inline: a graph reading the cache would be guarded on the dict, which the
            # first call fills, so the second call would recompile. Inside a graph the anchors
            # are constants (folded, or a few kernels replayed with the CUDA graph). A captured
            # graph (graph_mode capture) reads its tensors by address at every replay: cached
            # anchors would be freed, their memory reused, once another size is decoded.
            return _make_anchors(maps, self.strides)
        key = (tuple(m.shape[-2:] for m in maps), maps[0].device)
        if key not in self._anchor_cache:
            self._anchor_cache = {key: _make_anchors(maps, self.strides)}
        return self._anchor_cache[key]

    def decode(self, box_cls, keypoints):
        """
        Decode head maps to (B, 4 + nc + nk, A): box cx, cy, w, h px; class probs; keypoints.

        Decoding always runs in float32, whatever precision the convolutions used.
        """
        box_cls = [m.float() for m in box_cls]
        batch = box_cls[0].shape[0]
        anchors, strides = self.anchors(box_cls)
        flat = torch.cat([m.view(batch, m.shape[1], -1) for m in box_cls], 2)
        bins, logits = flat.split((4 * self.reg_max, self.num_classes), 1)
        # Distribution focal loss: each side is the expectation over reg_max distance bins.
        prob = bins.view(batch, 4, self.reg_max, -1).softmax(2)
        dist = (prob * self.dfl_bins.float().view(1, 1, self.reg_max, 1)).sum(2)
        left_top, right_bottom = dist.chunk(2, 1)
        x1y1 = anchors - left_top
        x2y2 = anchors + right_bottom
        boxes = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides

        kpt = torch.cat([m.float().view(batch, m.shape[1], -1) for m in keypoints], 2)
        ndim = self.keypoint_shape[1]
        kpt = kpt.clone()
        if ndim == 3:
            kpt[:, 2::3] = kpt[:, 2::3].sigmoid()
        kpt[:, 0::ndim] = (kpt[:, 0::ndim] * 2.0 + (anchors[0] - 0.5)) * strides
        kpt[:, 1::ndim] = (kpt[:, 1::ndim] * 2.0 + (anchors[1] - 0.5)) * strides
        return torch.cat((boxes, logits.sigmoid(), kpt), 1)


def _capturing():
    """Whether a CUDA graph is being captured on the current stream (never on a CPU build)."""
    return torch.cuda.is_available() and torch.cuda.is_current_stream_capturing()


def _make_anchors(maps, level_strides):
    points, strides = [], []
    for stride, m in zip(level_strides, maps):
        h, w = m.shape[-2:]
        # ultralytics make_anchors: cell centres at index + 0.5, x varies fastest.
        rows = torch.arange(h, device=m.device, dtype=torch.float32) + 0.5
        cols = torch.arange(w, device=m.device, dtype=torch.float32) + 0.5
        sy, sx = torch.meshgrid(rows, cols, indexing='ij')
        points.append(torch.stack((sx, sy)).view(2, -1))
        strides.append(torch.full((1, h * w), stride, device=m.device))
    return torch.cat(points, 1), torch.cat(strides, 1)


class YoloPose(nn.Module):
    """YOLOv8-pose: backbone, PAN neck and pose head, laid out as ultralytics layers 0-22."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        w0, w1, w2, w3, w4 = config.widths
        d1, d2, d3, d4 = config.backbone_depths
        n12, n15, n16, n18, n19, n21 = config.neck_widths
        e12, e15, e18, e21 = config.neck_depths
        short = config.backbone_shortcut

        # Backbone (layers 0-9): stride-2 conv then C2f per level; P3/P4 are kept for the neck.
        self.stem = ConvBnSiLU(config.in_channels, w0, 3, 2)
        self.down_p2 = ConvBnSiLU(w0, w1, 3, 2)
        self.stage_p2 = C2f(w1, w1, d1, short)
        self.down_p3 = ConvBnSiLU(w1, w2, 3, 2)
        self.stage_p3 = C2f(w2, w2, d2, short)
        self.down_p4 = ConvBnSiLU(w2, w3, 3, 2)
        self.stage_p4 = C2f(w3, w3, d3, short)
        self.down_p5 = ConvBnSiLU(w3, w4, 3, 2)
        self.stage_p5 = C2f(w4, w4, d4, short)
        self.sppf = SPPF(w4, w4, config.sppf_kernel)

        # Neck top-down (layers 10-15): upsample x2, concat with the backbone level, C2f.
        short = config.neck_shortcut
        self.topdown_p4 = C2f(w4 + w3, n12, e12, short)
        self.topdown_p3 = C2f(n12 + w2, n15, e15, short)
        # Neck bottom-up (layers 16-21): stride-2 conv, concat with the top-down level, C2f.
        self.bottomup_down_p3 = ConvBnSiLU(n15, n16, 3, 2)
        self.bottomup_p4 = C2f(n16 + n12, n18, e18, short)
        self.bottomup_down_p4 = ConvBnSiLU(n18, n19, 3, 2)
        self.bottomup_p5 = C2f(n19 + w4, n21, e21, short)

        self.head = PoseHead((n15, n18, n21), config)

    def forward_maps(self, x):
        """Run the convolutions; return per-level (box+class) maps and keypoint maps."""
        x = self.stage_p2(self.down_p2(self.stem(x)))
        p3 = self.stage_p3(self.down_p3(x))
        p4 = self.stage_p4(self.down_p4(p3))
        p5 = self.sppf(self.stage_p5(self.down_p5(p4)))

        td4 = self.topdown_p4(torch.cat((_upsample2(p5), p4), 1))
        out3 = self.topdown_p3(torch.cat((_upsample2(td4), p3), 1))
        out4 = self.bottomup_p4(torch.cat((self.bottomup_down_p3(out3), td4), 1))
        out5 = self.bottomup_p5(torch.cat((self.bottomup_down_p4(out4), p5), 1))
        return self.head((out3, out4, out5))

    def forward(self, x):
        """Return the decoded (B, 4 + nc + nk, A) output (ultralytics ``Pose`` eval output)."""
        return self.head.decode(*self.forward_maps(x))

    def fuse_batchnorm(self):
        """Fold every batch norm into its convolution (inference only)."""
        for module in self.modules():
            if isinstance(module, ConvBnSiLU):
                module.fuse_batchnorm()
        return self


def _upsample2(x):
    return F.interpolate(x, scale_factor=2.0, mode='nearest')
