"""Auxiliary image-plane heatmap of projected object centres.

It gives the camera branch a direct, per-camera detection signal, which makes it learn from
scratch far faster than through the BEV head alone (see shared/STACK.md, second probe).
Targets are CenterNet-style Gaussians written here; the loss is mmdet's ``gaussian_focal_loss``.
"""
from typing import List

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.losses.gaussian_focal_loss import gaussian_focal_loss
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample


@MODELS.register_module()
class ImageCenterHeatmapHead(BaseModule):
    """Per-camera, per-class heatmap of the projected 3D box centres.

    Args:
        in_channels: channels of the image feature map.
        num_classes: detection classes.
        feature_stride: image pixels per feature cell.
        feat_channels: channels of the hidden conv.
        sigma_scale: Gaussian sigma as a share of the box's projected half-size.
        min_sigma: smallest sigma, in feature cells.
        loss_weight: weight of the focal loss.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 feature_stride: int,
                 feat_channels: int = 64,
                 sigma_scale: float = 0.5,
                 min_sigma: float = 0.5,
                 loss_weight: float = 1.0,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.feature_stride = feature_stride
        self.sigma_scale = sigma_scale
        self.min_sigma = min_sigma
        self.loss_weight = loss_weight
        self.conv = ConvModule(in_channels, feat_channels, 3, padding=1, norm_cfg=dict(type='BN2d'))
        self.cls = nn.Conv2d(feat_channels, num_classes, 1)
        nn.init.constant_(self.cls.bias, -2.19)  # prior of ~10% foreground

    def forward(self, img_feats: Tensor) -> Tensor:
        """(B, N, C, H, W) -> (B, N, num_classes, H, W) heatmap logits."""
        B, N = img_feats.shape[:2]
        out = self.cls(self.conv(img_feats.flatten(0, 1)))
        return out.view(B, N, self.num_classes, *out.shape[-2:])

    def get_targets(self, data_samples: List[Det3DDataSample], lidar2img: Tensor,
                    cam2img: Tensor, feat_hw) -> Tensor:
        """Gaussian heatmaps (B, N, num_classes, H, W) with a 1 at each visible centre's cell.

        Args:
            lidar2img: (B, N, 4, 4); cam2img: (B, N, 4, 4) (its [0, 0] is the focal length).
        """
        B, N = lidar2img.shape[:2]
        fH, fW = feat_hw
        s = self.feature_stride
        K = max(1, max(len(ds.gt_instances_3d) for ds in data_samples))
        # pad objects to K per sample: centres (B, K, 3), half-size (B, K), labels (B, K)
        centres = lidar2img.new_zeros(B, K, 3)
        half = lidar2img.new_zeros(B, K)
        labels = torch.full((B, K), -1, dtype=torch.long, device=lidar2img.device)
        for b, ds in enumerate(data_samples):
            boxes, k = ds.gt_instances_3d.bboxes_3d, len(ds.gt_instances_3d)
            centres[b, :k] = boxes.gravity_center.to(centres)
            half[b, :k] = boxes.dims.to(half).max(dim=1).values / 2
            labels[b, :k] = ds.gt_instances_3d.labels_3d.to(labels.device)
        # project every centre into every camera: (B, N, K, 4)
        hom = torch.cat([centres, centres.new_ones(B, K, 1)], dim=-1)
        proj = torch.einsum('bnij,bkj->bnki', lidar2img.float(), hom)
        depth = proj[..., 2]
        safe = depth.clamp(min=1e-3)
        fu = (proj[..., 0] / safe - (s - 1) / 2) / s  # feature-cell coordinates
        fv = (proj[..., 1] / safe - (s - 1) / 2) / s
        cu, cv = torch.round(fu), torch.round(fv)
        visible = ((depth > 0.1) & (cu >= 0) & (cu < fW) & (cv >= 0) & (cv < fH)
                   & (labels >= 0).unsqueeze(1))
        sigma = (cam2img[..., 0, 0].unsqueeze(-1) * half.unsqueeze(1) / safe / s
                 * self.sigma_scale).clamp(min=self.min_sigma)  # (B, N, K)
        # Gaussians on the feature grid: (B, N, K, H, W)
        gv = torch.arange(fH, device=lidar2img.device, dtype=torch.float32).view(1, 1, 1, fH, 1)
        gu = torch.arange(fW, device=lidar2img.device, dtype=torch.float32).view(1, 1, 1, 1, fW)
        d2 = (gu - cu[..., None, None]) ** 2 + (gv - cv[..., None, None]) ** 2
        heat = torch.exp(-d2 / (2 * sigma[..., None, None] ** 2)) * visible[..., None, None]
        # class-wise max over objects: (B, N, K, 1, H, W) x (B, 1, K, cls, 1, 1) -> (B, N, cls, H, W)
        onehot = F.one_hot(labels.clamp(min=0), self.num_classes).float() * (labels >= 0).unsqueeze(-1)
        return (heat.unsqueeze(3) * onehot[:, None, :, :, None, None]).amax(dim=2)

    def loss(self, heatmap_logits: Tensor, data_samples: List[Det3DDataSample],
             lidar2img: Tensor, cam2img: Tensor) -> Tensor:
        """Gaussian focal loss, normalised by the number of visible centres."""
        target = self.get_targets(data_samples, lidar2img, cam2img, heatmap_logits.shape[-2:])
        pred = heatmap_logits.sigmoid().clamp(1e-4, 1 - 1e-4)
        num_pos = target.eq(1).sum().clamp(min=1)
        return self.loss_weight * gaussian_focal_loss(pred, target, reduction='none').sum() / num_pos
