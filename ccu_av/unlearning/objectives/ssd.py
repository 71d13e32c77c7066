"""Selective Synaptic Dampening (Foster et al., AAAI 2024, "Fast Machine Unlearning Without
Retraining Through Selective Synaptic Dampening"): no training, one edit of the weights.

The pre-pass measures each trainable weight's importance, the mean over batches of its squared
gradient of the detection loss (the diagonal of the Fisher information), on the forget set and on
all training data (the retain set and the forget set, as the paper's full training set), and
dampens the weights far more important to the forget set (:func:`dampening_factors`). The run
then trains nothing: its config sets ``train_cfg.max_iters=0``, and :meth:`SSD.loss` refuses to
be called. ``docs/method.md``, "Baseline: SSD".
"""
from typing import Dict, Iterable, Optional

import torch
from mmengine.logging import MMLogger
from torch import Tensor, nn

from ..saliency import gradient_sums, trainable_parameters
from .base import OBJECTIVES, Batch, UnlearningObjective


def dampening_factors(forget_importance: Tensor, global_importance: Tensor, alpha: float,
                      dampening: float) -> Tensor:
    """SSD's factor for each weight: ``min(lambda * I_D / I_f, 1)`` where ``I_f > alpha * I_D``
    (the weight is selected), 1 elsewhere.

    Args:
        forget_importance: ``I_f``, the weights' importances on the forget set.
        global_importance: ``I_D``, on all training data (same shape).
        alpha: the selection threshold.
        dampening: ``lambda``, the dampening constant.
    """
    selected = forget_importance > alpha * global_importance
    # I_f > 0 wherever selected (I_D >= 0), so the division is only ever read where it is finite
    factor = (dampening * global_importance / forget_importance).clamp(max=1.0)
    return torch.where(selected, factor, torch.ones_like(factor))


@OBJECTIVES.register_module(name='SSD')
class SSD(UnlearningObjective):
    """Dampens, in the pre-pass, the weights selected by :func:`dampening_factors`; trains nothing.

    Args:
        alpha: a weight is selected where its forget importance exceeds ``alpha`` times its
            global one. The paper's 10 can select nothing when the forget set is a large share of
            the training data: the global mean includes the forget batches, so
            ``I_f / I_D <= (F + R) / F`` batches (4 for a takedown of one of four equal
            locations).
        dampening: ``lambda``; a selected weight is multiplied by ``min(lambda * I_D / I_f, 1)``.
            1 is the paper's.

    State: the dampened student itself (its weights); ``num_dampened`` counts the weights the
    pre-pass multiplied by a factor below 1.
    """

    has_prepass = True
    prepass_reads_retain = True

    def __init__(self, alpha: float = 10.0, dampening: float = 1.0):
        super().__init__()
        if alpha <= 0 or dampening <= 0:
            raise ValueError(f'alpha and dampening must be positive, got {alpha} and {dampening}')
        self.alpha, self.dampening = float(alpha), float(dampening)
        self.register_buffer('num_dampened', torch.zeros((), dtype=torch.long))

    def prepass(self, student: nn.Module, teacher: nn.Module, forget_batches: Iterable[Batch],
                retain_batches: Optional[Iterable[Batch]] = None) -> None:
        """Importances on the forget set and on retain + forget; the selected weights dampened."""
        if retain_batches is None:
            raise ValueError('SSD reads the retain set in its pre-pass (prepass_reads_retain): '
                             'got no retain_batches')
        forget_sq, F = gradient_sums(student, forget_batches, power=2)
        retain_sq, R = gradient_sums(student, retain_batches, power=2)
        factors = {}
        for name, param in trainable_parameters(student).items():
            forget_imp = forget_sq[name] / F
            global_imp = (forget_sq[name] + retain_sq[name]) / (F + R)  # mean over all batches
            factors[name] = dampening_factors(forget_imp, global_imp, self.alpha, self.dampening)
        self._dampen(student, factors)
        MMLogger.get_current_instance().info(
            f'SSD: {int(self.num_dampened)} of {sum(f.numel() for f in factors.values())} '
            f'trainable weights dampened ({F} forget and {R} retain batches)')

    def _dampen(self, student: nn.Module, factors: Dict[str, Tensor]) -> None:
        """Multiplies the selected weights by their factors; the others are not written."""
        params = dict(student.named_parameters())
        with torch.no_grad():
            for name, factor in factors.items():
                selected = factor < 1
                params[name][selected] *= factor[selected]
                self.num_dampened += int(selected.sum())

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        raise RuntimeError('SSD does not train: its pre-pass edits the weights; run it with '
                           'train_cfg.max_iters=0 (configs/unlearn/ssd_bevfusion.py)')
