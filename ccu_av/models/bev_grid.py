"""The BEV grid shared by the camera view transform, the radar encoder and the detection head.

A grid is a box ``point_cloud_range = [x0, y0, z0, x1, y1, z1]`` (metres, LIDAR_TOP frame) cut
into cells of ``voxel_size = [vx, vy, vz]``; BEV tensors are laid out ``(B, C, Y, X)`` with row
``iy`` and column ``ix``, as mmdet3d's ``CenterHead`` draws its heatmaps.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor


class BEVGrid:
    """Maps LIDAR_TOP points to flat BEV cell indices.

    Args:
        point_cloud_range: ``[x0, y0, z0, x1, y1, z1]`` in metres.
        voxel_size: ``[vx, vy, vz]``; only ``vx`` and ``vy`` cut the grid, ``vz`` is unused
            because the grid has a single height layer (points outside ``[z0, z1)`` are dropped).
    """

    def __init__(self, point_cloud_range: Sequence[float], voxel_size: Sequence[float]):
        if len(point_cloud_range) != 6 or len(voxel_size) < 2:
            raise ValueError(
                f'point_cloud_range must hold 6 values and voxel_size at least 2, '
                f'got {list(point_cloud_range)} and {list(voxel_size)}')
        self.range = [float(v) for v in point_cloud_range]
        self.cell = [float(v) for v in voxel_size[:2]]
        extent = (self.range[3] - self.range[0], self.range[4] - self.range[1])
        size = [round(e / c) for e, c in zip(extent, self.cell)]
        if any(s <= 0 or abs(s * c - e) > 1e-4 for s, c, e in zip(size, self.cell, extent)):
            raise ValueError(
                f'voxel_size {list(voxel_size[:2])} must divide the point_cloud_range extent '
                f'{list(extent)} into a whole number of cells')
        self.X, self.Y = size

    @property
    def shape(self) -> Tuple[int, int]:
        """``(Y, X)``: the spatial shape of a BEV tensor."""
        return self.Y, self.X

    def cell_index(self, xyz: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Cell column, row and a mask of points inside the grid.

        Args:
            xyz: (..., 3) points in the LIDAR_TOP frame.

        Returns:
            ``(ix, iy, inside)``, each shaped like ``xyz[..., 0]`` (``ix``/``iy`` are long and
            only meaningful where ``inside``).
        """
        x0, y0, z0, x1, y1, z1 = self.range
        ix = torch.floor((xyz[..., 0] - x0) / self.cell[0]).long()
        iy = torch.floor((xyz[..., 1] - y0) / self.cell[1]).long()
        z = xyz[..., 2]
        inside = (ix >= 0) & (ix < self.X) & (iy >= 0) & (iy < self.Y) & (z >= z0) & (z < z1)
        return ix, iy, inside

    def cell_centres(self, ix: Tensor, iy: Tensor) -> Tuple[Tensor, Tensor]:
        """Metric ``(x, y)`` of the centres of cells ``(ix, iy)``."""
        return (self.range[0] + (ix.float() + 0.5) * self.cell[0],
                self.range[1] + (iy.float() + 0.5) * self.cell[1])
