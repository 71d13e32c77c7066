"""Pipeline transforms for camera+radar nuScenes data (registered in mmdet3d's TRANSFORMS)."""
from .camera import AugmentCameraMatrices, ComposeCameraMatrices, LoadCameraImages, bev_augmentation_matrix
from .depth import LoadLidarDepthTargets, project_depth
from .formatting import PackCamRadarInputs
from .radar import LoadRadarSweeps, check_radar_pcd, radar_filters

__all__ = ['AugmentCameraMatrices', 'ComposeCameraMatrices', 'LoadCameraImages', 'LoadLidarDepthTargets', 'LoadRadarSweeps', 'PackCamRadarInputs', 'check_radar_pcd',
           'bev_augmentation_matrix', 'project_depth', 'radar_filters']
