"""The camera+radar BEV fusion detector and its parts, registered in mmdet3d's MODELS.

Folders follow the pipeline: ``view_transforms`` (camera -> BEV), ``radar_encoders`` (radar ->
BEV), ``fusion``, ``dense_heads`` (auxiliary image head; ``CenterHead`` with per-class NMS),
``detectors``; ``interface`` is the modal-features interface that unlearning code uses.
"""
from .bev_grid import BEVGrid
from .dense_heads.class_nms_center_head import ClassNMSCenterHead
from .dense_heads.image_heatmap_head import ImageCenterHeatmapHead
from .detectors.camradar_bevfusion import CamRadarBEVFusion
from .fusion.conv_fuser import ConvFuser
from .interface import (MODALITIES, ModalFusionDetector, ModalityMixin, check_modal_interface,
                        use_modality)
from .radar_encoders.pillar_encoder import RadarPillarEncoder
from .view_transforms.lift_splat import LiftSplatViewTransform

__all__ = [
    'BEVGrid', 'CamRadarBEVFusion', 'ClassNMSCenterHead', 'ConvFuser', 'ImageCenterHeatmapHead',
    'LiftSplatViewTransform',
    'MODALITIES', 'ModalFusionDetector', 'ModalityMixin', 'RadarPillarEncoder',
    'check_modal_interface', 'use_modality'
]
