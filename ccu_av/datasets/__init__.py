"""nuScenes camera+radar data: info files, the dataset, pipeline transforms, takedown selection.

Importing this package registers ``CamRadarNuScenesDataset`` in mmdet3d's DATASETS and
``ComposeCameraMatrices``, ``LoadRadarSweeps``, ``LoadLidarDepthTargets`` and
``PackCamRadarInputs`` in its TRANSFORMS.
"""
from .camradar_dataset import CamRadarNuScenesDataset
from .nuscenes_converter import (ATTRIBUTES, CAMERA_CHANNELS, CLASSES, RADAR_CHANNELS, create_nuscenes_infos,
                                 load_nuscenes, resolve_splits)
from .radar_points import RadarPoints
from .redaction import REDACTION_FILE, record_redaction, redacted_samples, redacted_tokens, redaction_digest
from .takedown_selection import (TakedownRequest, TakedownSelection, records_from_info_file,
                                 records_from_nuscenes, select_from_info_file, select_takedown)
from .transforms import ComposeCameraMatrices, LoadLidarDepthTargets, LoadRadarSweeps, PackCamRadarInputs

__all__ = [
    'ATTRIBUTES', 'CAMERA_CHANNELS', 'CLASSES', 'RADAR_CHANNELS', 'REDACTION_FILE', 'CamRadarNuScenesDataset',
    'ComposeCameraMatrices',
    'LoadLidarDepthTargets', 'LoadRadarSweeps', 'PackCamRadarInputs', 'RadarPoints', 'TakedownRequest',
    'TakedownSelection', 'create_nuscenes_infos', 'load_nuscenes', 'records_from_info_file',
    'record_redaction', 'records_from_nuscenes', 'redacted_samples', 'redacted_tokens', 'redaction_digest',
    'resolve_splits', 'select_from_info_file', 'select_takedown'
]
