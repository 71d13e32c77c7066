"""Lift-splat camera view transform in plain torch (runs on CPU).

mmdet3d 1.4 has no CPU lift-splat: its BEVFusion project is not in the wheel and its ``bev_pool``
op is CUDA-only, so the frustum geometry and the pooling are written here. The pooling is one
``index_add_`` over all batches, cameras, depth bins and pixels; ``tests/models`` keeps a slow,
obvious reference version and checks that the two agree.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS

from ..bev_grid import BEVGrid


@MODELS.register_module()
class LiftSplatViewTransform(BaseModule):
    """Image features -> per-pixel depth distribution x context -> camera BEV features.

    Steps (after lift-splat-shoot): ``get_depth_and_context`` -> ``get_geometry`` ->
    ``splat`` (voxel pooling into the BEV grid).

    Args:
        in_channels: channels of the image feature map.
        out_channels: context channels, i.e. the channels of the camera BEV.
        image_size: ``(H, W)`` of the network input images.
        feature_stride: image pixels per feature cell.
        dbound: ``(d_min, d_max, d_step)`` of the depth bins, metres along the optical axis.
        point_cloud_range: BEV grid bounds, see :class:`BEVGrid`.
        voxel_size: BEV cell size, see :class:`BEVGrid`.
        mid_channels: channels of the shared conv before the depth/context split.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 image_size: Sequence[int],
                 feature_stride: int,
                 dbound: Sequence[float],
                 point_cloud_range: Sequence[float],
                 voxel_size: Sequence[float],
                 mid_channels: int = 64,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        H, W = image_size
        if H % feature_stride or W % feature_stride:
            raise ValueError(
                f'image_size {tuple(image_size)} must be divisible by feature_stride {feature_stride}')
        self.image_size = (int(H), int(W))
        self.feature_stride = int(feature_stride)
        self.dbound = tuple(float(v) for v in dbound)
        self.grid = BEVGrid(point_cloud_range, voxel_size)
        self.out_channels = out_channels
        self.register_buffer('frustum', self.create_frustum(), persistent=False)
        self.D = self.frustum.shape[0]
        self.depth_context = nn.Sequential(
            ConvModule(in_channels, mid_channels, 3, padding=1, norm_cfg=dict(type='BN2d')),
            nn.Conv2d(mid_channels, self.D + out_channels, 1))

    @property
    def feature_size(self) -> Tuple[int, int]:
        """``(H, W)`` of the image feature map this transform expects."""
        return self.image_size[0] // self.feature_stride, self.image_size[1] // self.feature_stride

    def create_frustum(self) -> Tensor:
        """(D, H, W, 4) homogeneous image points ``(u*d, v*d, d, 1)`` at feature-cell centres."""
        d_min, d_max, d_step = self.dbound
        depths = torch.arange(d_min + d_step / 2, d_max, d_step)  # bin centres
        fH, fW = self.feature_size
        s = self.feature_stride
        # pixel coordinates (integer = pixel centre) of each feature cell's centre
        v = torch.arange(fH) * s + (s - 1) / 2
        u = torch.arange(fW) * s + (s - 1) / 2
        d, vv, uu = torch.meshgrid(depths, v, u, indexing='ij')
        return torch.stack([uu * d, vv * d, d, torch.ones_like(d)], dim=-1)

    def get_depth_and_context(self, img_feats: Tensor) -> Tuple[Tensor, Tensor]:
        """Depth logits (B, N, D, H, W) and context (B, N, C, H, W) from (B, N, C_in, H, W)."""
        B, N, C_in, H, W = img_feats.shape
        out = self.depth_context(img_feats.flatten(0, 1))  # (B*N, D + C, H, W)
        depth_logits, context = out.split([self.D, self.out_channels], dim=1)
        return (depth_logits.view(B, N, self.D, H, W),
                context.reshape(B, N, self.out_channels, H, W))

    @torch.no_grad()
    def get_geometry(self, lidar2img: Tensor) -> Tensor:
        """(B, N, D, H, W, 3) LIDAR_TOP coordinates of every frustum point.

        Args:
            lidar2img: (B, N, 4, 4) projections ``cam2img (padded to 4x4) @ lidar2cam``.
        """
        img2lidar = torch.linalg.inv(lidar2img.float())  # (B, N, 4, 4)
        pts = torch.einsum('bnij,dhwj->bndhwi', img2lidar, self.frustum)
        return pts[..., :3]

    def splat(self, depth_prob: Tensor, context: Tensor, geometry: Tensor) -> Tensor:
        """Voxel pooling: sum every frustum point's feature into its BEV cell.

        Args:
            depth_prob: (B, N, D, H, W) depth distribution.
            context: (B, N, C, H, W) context features.
            geometry: (B, N, D, H, W, 3) frustum points in the LIDAR_TOP frame.

        Returns:
            (B, C, Y, X) camera BEV features.
        """
        B, N, D, H, W = depth_prob.shape
        C = context.shape[2]
        # lift: outer product of depth distribution and context
        feats = depth_prob.unsqueeze(-1) * context.permute(0, 1, 3, 4, 2).unsqueeze(2)  # (B, N, D, H, W, C)
        # flatten indices
        ix, iy, inside = self.grid.cell_index(geometry)  # (B, N, D, H, W) each
        batch_idx = torch.arange(B, device=ix.device).view(B, 1, 1, 1, 1).expand_as(ix)
        flat = (batch_idx * self.grid.Y + iy) * self.grid.X + ix
        # one scatter over all points of the batch
        bev = feats.new_zeros(B * self.grid.Y * self.grid.X, C)
        bev.index_add_(0, flat[inside], feats[inside])
        return bev.view(B, self.grid.Y, self.grid.X, C).permute(0, 3, 1, 2).contiguous()

    def forward(self, img_feats: Tensor, lidar2img: Tensor) -> Dict[str, Tensor]:
        """Camera BEV features and the depth logits (for depth supervision).

        Args:
            img_feats: (B, N, C_in, H, W) image features at ``feature_stride``.
            lidar2img: (B, N, 4, 4).

        Returns:
            ``dict(bev=(B, C, Y, X), depth_logits=(B, N, D, H, W))``.
        """
        if tuple(img_feats.shape[-2:]) != self.feature_size:
            raise ValueError(
                f'image features are {tuple(img_feats.shape[-2:])}, expected {self.feature_size} '
                f'(image_size {self.image_size} / feature_stride {self.feature_stride})')
        depth_logits, context = self.get_depth_and_context(img_feats)
        geometry = self.get_geometry(lidar2img)
        bev = self.splat(depth_logits.softmax(dim=2), context, geometry)
        return dict(bev=bev, depth_logits=depth_logits)

    def depth_targets(self, gt_depth: Tensor) -> Tensor:
        """Depth bin index per feature cell, -1 where depth is unknown or out of range.

        A cell's depth is the nearest known depth among its ``feature_stride`` x
        ``feature_stride`` pixels (as BEVDepth), so a cell with any known pixel is supervised.

        Args:
            gt_depth: (B, N, H_img, W_img) metres, 0 where unknown.

        Returns:
            (B, N, H, W) long.
        """
        B, N, H_img, W_img = gt_depth.shape
        s = self.feature_stride
        fH, fW = H_img // s, W_img // s
        d = gt_depth.view(B, N, fH, s, fW, s)
        d = torch.where(d > 0, d, torch.full_like(d, float('inf'))).amin(dim=(3, 5))  # (B, N, fH, fW)
        d_min, d_max, d_step = self.dbound
        bins = torch.floor((d - d_min) / d_step)
        valid = torch.isfinite(d) & (bins >= 0) & (bins < self.D)
        return torch.where(valid, bins, torch.full_like(bins, -1)).long()

    def depth_loss(self, depth_logits: Tensor, gt_depth: Tensor) -> Tensor:
        """Cross-entropy over depth bins on the cells with known depth (BEVDepth-style)."""
        target = self.depth_targets(gt_depth)  # (B, N, H, W)
        if target.shape != depth_logits.shape[:2] + depth_logits.shape[3:]:
            raise ValueError(
                f'gt_depth gives depth targets of shape {tuple(target.shape)}, but the depth '
                f'logits are {tuple(depth_logits.shape)} (B, N, D, H, W)')
        logits = depth_logits.permute(0, 1, 3, 4, 2).reshape(-1, self.D)  # (B*N*H*W, D)
        target = target.reshape(-1)
        valid = target >= 0
        if not valid.any():
            return depth_logits.sum() * 0
        return F.cross_entropy(logits[valid], target[valid])
