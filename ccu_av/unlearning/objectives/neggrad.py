"""Gradient ascent on the forget set (NegGrad; Golatkar et al., CVPR 2020, "Eternal Sunshine of
the Spotless Net"): the training on the forget samples is undone by maximising their loss.

For a detector, the loss is the head's loss of the forget batch in fusion mode (through the modal
interface, :mod:`.common`), each term stopped at a bound (``docs/method.md``, "Baseline: gradient
ascent").
"""
from typing import Dict, Optional

from torch import Tensor, nn

from .base import OBJECTIVES, Batch, UnlearningObjective
from .common import bounded_ascent, check_bound


@OBJECTIVES.register_module(name='NegGrad')
class NegGrad(UnlearningObjective):
    """Bounded gradient ascent on the forget batch's detection loss; the retain batch is not read.

    Args:
        max_forget_loss: each head loss term rises to this value and no further (its gradient is
            0 above it). 5 lies above the untrained detector's terms (heatmap 3.3-4.2, box
            1.3-1.8 at iteration 20 of the default pretraining; 0.85-1.24 and 0.29-0.56 at its end): the
            head may become as wrong on the flagged scenes as one that never learnt, not without
            limit. It guards against divergence; the budget (iterations, learning rate) sets how
            far the ascent goes.
    """

    def __init__(self, max_forget_loss: float = 5.0):
        super().__init__()
        self.max_forget_loss = check_bound(max_forget_loss)

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        """``forget_<term>`` (``-min(L_term, max_forget_loss)``) and ``forget_detection``."""
        return bounded_ascent(student, forget, self.max_forget_loss, weight=1.0)
