"""NegGrad+ (Kurmanji et al., NeurIPS 2023, "Towards Unbounded Machine Unlearning"): descent on the
retain set and ascent on the forget set in the same step,
``alpha * L(retain) - (1 - alpha) * L(forget)``.

The weighting is theirs (``loss = alpha*r_loss - (1-alpha)*del_loss`` in the SCRUB repository's
``train_negrad``, ``alpha = 0.95`` in its notebooks): ``alpha`` weights the retain term, the
forget term gets ``1 - alpha``. For a detector both losses are the head's in fusion mode
(:mod:`.common`), the forget terms bounded as in :class:`~.neggrad.NegGrad`
(``docs/method.md``, "Baseline: NegGrad+").
"""
from typing import Dict

from torch import Tensor, nn

from .base import OBJECTIVES, Batch, UnlearningObjective
from .common import bounded_ascent, check_bound, retain_detection


@OBJECTIVES.register_module(name='NegGradPlus')
class NegGradPlus(UnlearningObjective):
    """Retain detection loss minus the bounded forget detection loss, weighted by ``alpha``.

    Args:
        alpha: weight of the retain term; the forget term's is ``1 - alpha`` (0: NegGrad, 1:
            fine-tuning on the head loss).
        max_forget_loss: each forget head loss term rises to this value and no further
            (:class:`~.neggrad.NegGrad` gives the reasons for 5).
    """

    def __init__(self, alpha: float = 0.95, max_forget_loss: float = 5.0):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must lie in [0, 1], got {alpha}')
        self.alpha = float(alpha)
        self.max_forget_loss = check_bound(max_forget_loss)

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Batch,
             iteration: int) -> Dict[str, Tensor]:
        """``retain_<term>`` (``alpha * L_term``), ``forget_<term>``
        (``-(1 - alpha) * min(L_term, max_forget_loss)``) and ``forget_detection``."""
        out = retain_detection(student, retain, weight=self.alpha)
        out.update(bounded_ascent(student, forget, self.max_forget_loss, weight=1.0 - self.alpha))
        return out
