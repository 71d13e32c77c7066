"""Unlearning objectives, one file each, registered in :data:`OBJECTIVES` (``docs/method.md``)."""
from .base import OBJECTIVES, Batch, UnlearningObjective
from .ccu import CCU, sum_head_losses, without_objects
from .finetune import FineTune

__all__ = ['Batch', 'CCU', 'FineTune', 'OBJECTIVES', 'UnlearningObjective', 'sum_head_losses',
           'without_objects']
