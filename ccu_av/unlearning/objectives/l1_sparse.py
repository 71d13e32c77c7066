"""l1-sparse unlearning (Jia et al., NeurIPS 2023, "Model Sparsity Can Simplify Machine
Unlearning"): fine-tuning on the retain set plus an l1 penalty on the weights whose weight decays
linearly to 0, ``L_train(retain) + gamma_t * ||theta||_1``, ``gamma_t = gamma * (1 - t / T)``
(``docs/method.md``, "Baseline: l1-sparse").
"""
from typing import Dict, Optional

from torch import Tensor, nn

from .base import OBJECTIVES, Batch
from .common import run_length
from .finetune import FineTune


@OBJECTIVES.register_module(name='L1Sparse')
class L1Sparse(FineTune):
    """:class:`FineTune`'s loss plus ``gamma_t`` times the l1 norm of the trainable weights.

    Args:
        gamma: the penalty's weight at the first iteration. 5e-5 makes the penalty about 3.1 at
            the start on the default original (its ||theta||_1 is 6.2e4), against a training loss
            of 5.3 at the end of its pretraining (the logged mean): a regulariser, not the main
            term.
        decay_iters: iterations over which ``gamma_t`` falls linearly to 0; 0 from there on.
            None: the run's length (mmengine's ``max_iters``, which the takedown job's
            ``ForgetPassTrainLoop`` sets from the forget set).
    """

    def __init__(self, gamma: float = 5e-5, decay_iters: Optional[int] = None):
        super().__init__()
        if gamma < 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        if decay_iters is not None and decay_iters <= 0:
            raise ValueError(f'decay_iters must be positive or None (the run\'s length), got {decay_iters}')
        self.gamma = float(gamma)
        self.decay_iters = None if decay_iters is None else int(decay_iters)

    def gamma_at(self, iteration: int, run_iters: Optional[int] = None) -> float:
        """``gamma * (1 - iteration / T)``, 0 from ``T`` on: ``T`` is ``decay_iters``, else
        ``run_iters``, else the running loop's ``max_iters`` (mmengine's message hub)."""
        total = run_length('L1Sparse', self.decay_iters or run_iters, knob='decay_iters')
        return self.gamma * max(0.0, 1.0 - iteration / total)

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        """``retain_<term>`` (the detector's training loss), ``loss_l1``, and the logged
        ``l1_gamma`` and ``l1_norm`` (over the parameters that require gradients: frozen modules
        are not penalised)."""
        out = super().loss(student, teacher, retain, forget, iteration)
        norm = sum(p.abs().sum() for p in student.parameters() if p.requires_grad)
        gamma = self.gamma_at(iteration)
        out['loss_l1'] = gamma * norm
        out['l1_gamma'] = norm.new_tensor(gamma)
        out['l1_norm'] = norm.detach()
        return out
