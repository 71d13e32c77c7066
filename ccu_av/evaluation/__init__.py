"""Evaluation: nuScenes detection metrics on any subset of samples (the devkit's own algorithm),
the conversion of detector outputs to the nuScenes submission format, an mmengine metric, a cache
of predictions per checkpoint and mode, modality-mode evaluation of checkpoints, membership
inference against the camera branch, and the unlearning report."""
from .nusc_format import (NUSCENES_CLASSES, default_attribute, lidar_boxes_to_nusc,
                          lidar_poses_from_nusc)
from .nusc_subset_eval import NuScenesSubsetEvaluator, flatten_metrics
from .nusc_subset_metric import NuScenesSubsetMetric, get_evaluator
from .prediction_cache import PredictionCache
from .report import build_report, evaluate_models, resolve_sets, write_report
from .modal_eval import evaluate_modes, predict_checkpoint
from .membership import membership_attack, membership_inference, roc_auc
from .checkpoint_report import report_checkpoints

__all__ = [
    'NUSCENES_CLASSES', 'default_attribute', 'lidar_boxes_to_nusc', 'lidar_poses_from_nusc',
    'NuScenesSubsetEvaluator', 'flatten_metrics', 'NuScenesSubsetMetric', 'get_evaluator',
    'PredictionCache', 'build_report', 'evaluate_models', 'resolve_sets',
    'write_report', 'evaluate_modes', 'predict_checkpoint', 'membership_attack',
    'membership_inference', 'roc_auc', 'report_checkpoints'
]
