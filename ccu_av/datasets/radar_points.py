"""Radar points in the LIDAR_TOP frame, with velocities that follow the geometry.

mmdet3d 1.4 has no radar point structure, so this one is written here: it is mmdet3d's
``LiDARPoints`` (radar returns are stored in the key frame's LIDAR_TOP frame) whose global
rotation, flip and scale also act on the velocity columns named by ``attribute_dims['velocity']``
(and ``['raw_velocity']``).
"""
from typing import List, Optional, Union

import numpy as np
from mmdet3d.structures.points import LiDARPoints
from torch import Tensor


class RadarPoints(LiDARPoints):
    """Radar returns (P, C): x, y, z first, then features such as rcs, vx_comp, vy_comp, time_lag.

    Args:
        tensor: (P, C) point features.
        points_dim: C.
        attribute_dims: feature name -> column; ``velocity`` (ego-motion compensated) and
            ``raw_velocity`` -> [vx column, vy column] make rotate/flip/scale act on them too.
    """

    VELOCITY_KEYS = ('velocity', 'raw_velocity')  # ego-motion compensated, raw

    @property
    def velocity_dims(self) -> List[List[int]]:
        """The [vx, vy] columns of each velocity pair the points carry."""
        dims = self.attribute_dims or {}
        return [dims[key] for key in self.VELOCITY_KEYS if key in dims]

    def rotate(self, rotation: Union[Tensor, np.ndarray, float], axis: Optional[int] = None) -> Tensor:
        """Rotate positions (as LiDARPoints) and, about the z axis, the velocities too."""
        rot_mat_T = super().rotate(rotation, axis)
        if axis is None or axis == 2:
            for dims in self.velocity_dims:
                # row vectors: v' = v @ R^T, restricted to the BEV plane
                self.tensor[:, dims] = self.tensor[:, dims] @ rot_mat_T[:2, :2]
        return rot_mat_T

    def flip(self, bev_direction: str = 'horizontal') -> None:
        """Flip positions and velocities along the given BEV direction."""
        super().flip(bev_direction)
        for dims in self.velocity_dims:
            column = dims[1] if bev_direction == 'horizontal' else dims[0]
            self.tensor[:, column] = -self.tensor[:, column]

    def scale(self, scale_factor: float) -> None:
        """Scale positions and velocities (a scaled scene moves proportionally faster)."""
        super().scale(scale_factor)
        for dims in self.velocity_dims:
            self.tensor[:, dims] *= scale_factor
