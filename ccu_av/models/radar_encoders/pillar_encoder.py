"""Radar pillar encoder: multi-sweep radar points -> radar BEV features.

mmdet3d's ``PillarFeatureNet`` needs voxelised input and its ``PointPillarsScatter`` loops over the
batch; radar clouds are a few hundred points, so the per-point MLP and the per-cell max-pool are
written here as one vectorised ``scatter_reduce`` over the whole batch.
"""
from typing import List, Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS

from ..bev_grid import BEVGrid

RADAR_FEATURES = ('x', 'y', 'z', 'rcs', 'vx_comp', 'vy_comp', 'time_lag')


@MODELS.register_module()
class RadarPillarEncoder(BaseModule):
    """PointNet-style MLP on radar points, max-pooled per BEV cell.

    Each point's features are the chosen input columns plus its offset ``(dx, dy)`` to the
    centre of its pillar (BEV cell).

    Args:
        feature_names: names of the columns of the radar point tensors, in order.
        used_features: the columns fed to the MLP (``z`` is unreliable on nuScenes radar and
            is left out by default).
        out_channels: channels of the radar BEV.
        mlp_channels: widths of the per-point MLP's hidden layers.
        point_cloud_range: BEV grid bounds, see :class:`BEVGrid`.
        voxel_size: BEV cell size, see :class:`BEVGrid`.
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 voxel_size: Sequence[float],
                 feature_names: Sequence[str] = RADAR_FEATURES,
                 used_features: Sequence[str] = ('x', 'y', 'rcs', 'vx_comp', 'vy_comp', 'time_lag'),
                 mlp_channels: Sequence[int] = (32,),
                 out_channels: int = 32,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        unknown = [f for f in used_features if f not in feature_names]
        if unknown or not {'x', 'y', 'z'} <= set(feature_names):
            raise ValueError(
                f'used_features {unknown} are not among the radar feature_names '
                f'{list(feature_names)} (which must include x, y, z)')
        self.feature_names = tuple(feature_names)
        self.register_buffer(
            'used_columns', torch.tensor([feature_names.index(f) for f in used_features]),
            persistent=False)
        self.grid = BEVGrid(point_cloud_range, voxel_size)
        self.out_channels = out_channels
        layers, c_in = [], len(used_features) + 2
        for c in list(mlp_channels) + [out_channels]:
            layers += [nn.Linear(c_in, c, bias=False), nn.BatchNorm1d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.point_mlp = nn.Sequential(*layers)
        self.bev_conv = ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=dict(type='BN2d'))

    def check_points(self, points: List[Tensor]) -> None:
        """Raise if a radar point tensor does not have the configured number of fields."""
        for i, p in enumerate(points):
            if p.dim() != 2 or p.shape[1] != len(self.feature_names):
                raise ValueError(
                    f'radar points of sample {i} have shape {tuple(p.shape)}, expected '
                    f'(P, {len(self.feature_names)}) with fields {list(self.feature_names)}')

    def forward(self, points: List[Tensor]) -> Tensor:
        """Encode a batch of radar clouds.

        Args:
            points: B tensors (P_b, C_r) with columns ``feature_names``.

        Returns:
            (B, C, Y, X) radar BEV features (zero in empty cells).
        """
        self.check_points(points)
        B, C = len(points), self.out_channels
        pts = torch.cat(points, dim=0)  # (P, C_r)
        batch_idx = torch.cat([torch.full((len(p),), i, dtype=torch.long, device=pts.device)
                               for i, p in enumerate(points)])
        xyz = pts[:, [self.feature_names.index(k) for k in ('x', 'y', 'z')]]
        ix, iy, inside = self.grid.cell_index(xyz)
        # per-point features: chosen columns + offset to the pillar centre
        cx, cy = self.grid.cell_centres(ix[inside], iy[inside])
        kept = pts[inside]
        offsets = torch.stack([xyz[inside, 0] - cx, xyz[inside, 1] - cy], dim=1)
        bev = pts.new_zeros(B * self.grid.Y * self.grid.X, C)
        if len(kept) == 0:  # no return inside the grid in the whole batch
            return self.bev_conv(bev.view(B, self.grid.Y, self.grid.X, C).permute(0, 3, 1, 2))
        feats = self.point_mlp(torch.cat([kept[:, self.used_columns], offsets], dim=1))  # (P', C)
        # max-pool per cell: one scatter over the batch
        flat = (batch_idx[inside] * self.grid.Y + iy[inside]) * self.grid.X + ix[inside]
        bev = bev.scatter_reduce(0, flat.unsqueeze(1).expand(-1, C), feats, reduce='amax',
                                 include_self=False)
        bev = bev.view(B, self.grid.Y, self.grid.X, C).permute(0, 3, 1, 2).contiguous()
        return self.bev_conv(bev)
