"""Pipeline transforms for camera+radar nuScenes data (registered in mmdet3d's TRANSFORMS)."""
from .camera import ComposeCameraMatrices, LoadCameraImages
from .depth import LoadLidarDepthTargets, project_depth
from .formatting import PackCamRadarInputs
from .radar import LoadRadarSweeps, check_radar_pcd, radar_filters

__all__ = ['ComposeCameraMatrices', 'LoadCameraImages', 'LoadLidarDepthTargets', 'LoadRadarSweeps', 'PackCamRadarInputs', 'check_radar_pcd',
           'project_depth', 'radar_filters']
