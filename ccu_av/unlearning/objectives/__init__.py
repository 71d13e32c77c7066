"""Unlearning objectives, one file each, registered in :data:`OBJECTIVES` (``docs/method.md``)."""
from .base import OBJECTIVES, Batch, UnlearningObjective
from .ccu import CCU, sum_head_losses, without_objects
from .finetune import FineTune
from .l1_sparse import L1Sparse
from .multidelete import MultiDelete
from .neggrad import NegGrad
from .neggrad_plus import NegGradPlus
from .random_labels import RandomLabels
from .salun import SalUn
from .scrub import SCRUB
from .ssd import SSD

__all__ = ['Batch', 'CCU', 'FineTune', 'L1Sparse', 'MultiDelete', 'NegGrad', 'NegGradPlus',
           'OBJECTIVES', 'RandomLabels', 'SCRUB', 'SSD', 'SalUn', 'UnlearningObjective',
           'sum_head_losses', 'without_objects']
