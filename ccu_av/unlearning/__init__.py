"""Unlearning: the registered unlearning model (student, frozen teacher, objective), one file per
objective (CCU and the baselines), paired forget/retain batches, the teacher snapshot, gradient
importances, and the hook of the phases around the training steps."""
from .embeddings import BoxPooler, ObjectSet, gt_objects
from .hooks import UnlearningHook
from .loops import ForgetPassTrainLoop, forget_pass_iters
from .model import PairedDataPreprocessor, UnlearningModel
from .objectives import (CCU, OBJECTIVES, SCRUB, SSD, FineTune, L1Sparse, MultiDelete, NegGrad,
                         NegGradPlus, RandomLabels, SalUn, UnlearningObjective)
from .paired_data import (PairedBatchSampler, PairedDataset, SeededBatchSampler, UnlearningDataset,
                          paired_collate)
from .teacher import snapshot_teacher

__all__ = [
    'BoxPooler', 'CCU', 'FineTune', 'ForgetPassTrainLoop', 'forget_pass_iters', 'L1Sparse', 'MultiDelete', 'NegGrad', 'NegGradPlus',
    'OBJECTIVES', 'RandomLabels', 'SCRUB', 'SSD', 'SalUn', 'ObjectSet', 'PairedBatchSampler', 'PairedDataset',
    'PairedDataPreprocessor', 'SeededBatchSampler', 'UnlearningDataset', 'UnlearningHook',
    'UnlearningModel', 'UnlearningObjective', 'gt_objects', 'paired_collate', 'snapshot_teacher'
]
