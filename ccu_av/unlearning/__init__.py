"""Unlearning: the CCU losses and method, the teacher snapshot, paired forget/retain batches,
and the mmengine hook that runs them (registered in mmdet3d's HOOKS)."""
from .ccu import CCU
from .embeddings import BoxPooler, ObjectSet, gt_objects
from .hooks import CCUHook
from .paired_loader import SeededBatchSampler, build_forget_dataset, build_forget_loader
from .teacher import restore_teacher, snapshot_teacher, teacher_state

__all__ = [
    'BoxPooler', 'CCU', 'CCUHook', 'ObjectSet', 'SeededBatchSampler', 'build_forget_dataset',
    'build_forget_loader', 'gt_objects', 'restore_teacher', 'snapshot_teacher', 'teacher_state'
]
