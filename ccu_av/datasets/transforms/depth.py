"""Sparse camera depth targets from LIDAR_TOP, for depth-supervised camera-to-BEV lifting.

mmdet3d has no transform that rasterises LiDAR depth into each view (BEVDepth-style targets),
so this one is written here. LIDAR_TOP is used only as supervision, never as a detector input.
"""
import os
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import TRANSFORMS
from nuscenes.utils.data_classes import LidarPointCloud

LIDAR_VALUES_PER_POINT = 5  # x, y, z, intensity, ring (nuScenes .pcd.bin, float32)


def load_lidar_xyz(path: str) -> np.ndarray:
    """LIDAR_TOP points (P, 3) in the LIDAR_TOP frame, read with the devkit."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'LIDAR_TOP file {path} does not exist')
    size = os.path.getsize(path)
    if size % (4 * LIDAR_VALUES_PER_POINT):
        raise ValueError(f'LIDAR_TOP file {path}: {size} bytes is not a whole number of points '
                         f'({LIDAR_VALUES_PER_POINT} float32 values each)')
    return LidarPointCloud.from_file(path).points[:3].T


def project_depth(points: np.ndarray, lidar2img: np.ndarray, image_hw: Tuple[int, int],
                  depth_range: Tuple[float, float]) -> np.ndarray:
    """Rasterise points into one view's sparse depth map; the nearest point wins each pixel.

    Args:
        points: (P, 3) in the LIDAR_TOP frame.
        lidar2img: (4, 4) projection, cam2img @ lidar2cam.
        image_hw: (H, W) of the image.
        depth_range: (min, max) depth in metres kept.

    Returns:
        (H, W) float32 depth in metres, 0 where no point falls.
    """
    H, W = image_hw
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)  # (P, 4)
    projected = homogeneous @ lidar2img.T  # (P, 4): (u*d, v*d, d, 1)
    depth = projected[:, 2]
    in_range = (depth >= depth_range[0]) & (depth <= depth_range[1])
    projected, depth = projected[in_range], depth[in_range]
    u = np.floor(projected[:, 0] / depth).astype(np.int64)
    v = np.floor(projected[:, 1] / depth).astype(np.int64)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    pixel, depth = v[inside] * W + u[inside], depth[inside]
    # nearest wins: sort by pixel, then depth; keep the first entry of each pixel
    order = np.lexsort((depth, pixel))
    pixel, depth = pixel[order], depth[order]
    first = np.ones(len(pixel), dtype=bool)
    first[1:] = pixel[1:] != pixel[:-1]
    depth_map = np.zeros(H * W, dtype=np.float32)
    depth_map[pixel[first]] = depth[first]
    return depth_map.reshape(H, W)


@TRANSFORMS.register_module()
class LoadLidarDepthTargets(BaseTransform):
    """Project LIDAR_TOP into every camera to make sparse depth targets at image resolution.

    Runs after ``LoadMultiViewImageFromFiles`` and ``ComposeCameraMatrices``. Reads ``img``
    (list of N (H, W, 3)), ``lidar2img`` (N, 4, 4) and ``lidar_points['lidar_path']``. Writes
    ``gt_depth`` (N, H, W) float32, metres, 0 where no point falls.

    Args:
        depth_range: (min, max) depth in metres kept as a target.
    """

    def __init__(self, depth_range: Tuple[float, float] = (0.5, 80.0)) -> None:
        if not 0 < depth_range[0] < depth_range[1]:
            raise ValueError(f'depth_range must be (min, max) with 0 < min < max, got {depth_range}')
        self.depth_range = tuple(depth_range)

    def transform(self, results: dict) -> dict:
        if 'lidar2img' not in results:
            raise KeyError('LoadLidarDepthTargets needs lidar2img: put ComposeCameraMatrices before it')
        lidar2img = np.asarray(results['lidar2img'])  # (N, 4, 4)
        if results.get('camera_erased', False):
            # no camera footage to supervise: depth unknown everywhere
            results['gt_depth'] = np.zeros((len(results['img']), *results['img'][0].shape[:2]),
                                           dtype=np.float32)
            return results
        points = load_lidar_xyz(results['lidar_points']['lidar_path'])  # (P, 3)
        results['gt_depth'] = np.stack([
            project_depth(points, lidar2img[n], img.shape[:2], self.depth_range)
            for n, img in enumerate(results['img'])
        ])  # (N, H, W)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(depth_range={self.depth_range})'
