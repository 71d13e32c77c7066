"""SCRUB (Kurmanji et al., NeurIPS 2023, "Towards Unbounded Machine Unlearning"): the student
distils the teacher on the retain set and moves away from it on the forget set.

For a detector the distance between student and teacher is taken on the head's dense outputs
(the interface's ``head_forward``): a Bernoulli KL of the class heatmaps, cell by cell, at a
temperature, plus an L1 distance of the box-regression maps where the teacher sees objects
(:func:`dense_distance`). The first ``max_fraction`` of the run's iterations are the paper's
"max" steps: the distance on the forget batch is maximised; every iteration minimises the retain
batch's distance and detection loss. The phase is a function of ``iteration`` and the run's
length alone (both the same in a resumed run), so a resumed run is in the phase an uninterrupted
one would be. ``docs/method.md``, "Baseline: SCRUB".
"""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...models.interface import modal_feats
from .base import OBJECTIVES, Batch, UnlearningObjective
from .ccu import sum_head_losses
from .common import run_length


def bernoulli_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T^2 * mean over (B, Y, X) of sum over classes KL(Ber(p_t) || Ber(p_s))`` with
    ``p = sigmoid(logit / T)``: the heatmaps' distillation (each cell and class is a Bernoulli,
    as the head's sigmoid focal loss treats it). Logits (B, K, Y, X)."""
    s, t = student_logits / temperature, teacher_logits / temperature
    p_t = torch.sigmoid(t)
    kl = (p_t * (F.logsigmoid(t) - F.logsigmoid(s))
          + (1 - p_t) * (F.logsigmoid(-t) - F.logsigmoid(-s)))  # (B, K, Y, X)
    return temperature ** 2 * kl.sum(1).mean()


def box_distance(student_boxes: Tensor, teacher_boxes: Tensor, teacher_logits: Tensor) -> Tensor:
    """Mean absolute difference of the regression maps (B, R, Y, X), each cell weighted by the
    teacher's largest class probability there (a box is only meaningful where it sees an
    object); 0 for a head without regression maps (R = 0)."""
    if student_boxes.shape[1] == 0:
        return student_boxes.new_zeros(())
    weight = torch.sigmoid(teacher_logits).amax(1)  # (B, Y, X)
    diff = (student_boxes - teacher_boxes).abs().mean(1)  # (B, Y, X)
    return (weight * diff).sum() / weight.sum().clamp(min=1e-6)


def dense_distance(student: Dict[str, Tensor], teacher: Dict[str, Tensor], temperature: float,
                   w_box: float) -> Tensor:
    """SCRUB's ``d``: :func:`bernoulli_kl` of the heatmaps + ``w_box`` * :func:`box_distance`."""
    boxes = box_distance(student['regression'], teacher['regression'], teacher['heatmap'])
    return bernoulli_kl(student['heatmap'], teacher['heatmap'], temperature) + w_box * boxes


@OBJECTIVES.register_module(name='SCRUB')
class SCRUB(UnlearningObjective):
    """``alpha * d(retain) + gamma * L_det(retain)``, minus ``d(forget)`` in the max steps.

    Args:
        max_fraction: the first ``ceil(max_fraction * T)`` iterations of a run of ``T`` also
            maximise the forget batch's distance (the paper's ``msteps``, there in epochs). A
            fraction, not a count: the takedown job's run length follows the forget set
            (``ForgetPassTrainLoop``), and a fixed count would be most of a short run.
        run_iters: ``T``; None: the running loop's ``max_iters`` (mmengine's message hub).
        temperature: of the heatmap KL (the paper's ``kd_T``, 4).
        alpha: weight of the retain distance (0.001, the paper's code).
        gamma: weight of the retain detection loss (0.99, the paper's code).
        w_box: weight of the box-regression distance within ``d`` (ours: the paper distils
            classifier outputs only).
    """

    def __init__(self, max_fraction: float = 1 / 3, temperature: float = 4.0, alpha: float = 0.001,
                 gamma: float = 0.99, w_box: float = 1.0, run_iters: Optional[int] = None):
        super().__init__()
        if not 0 <= max_fraction <= 1 or temperature <= 0 or min(alpha, gamma, w_box) < 0:
            raise ValueError(f'SCRUB needs max_fraction in [0, 1], temperature > 0 and alpha, gamma, '
                             f'w_box >= 0, got {max_fraction}, {temperature}, {alpha}, {gamma}, {w_box}')
        if run_iters is not None and run_iters <= 0:
            raise ValueError(f'run_iters must be positive or None (the run\'s length), got {run_iters}')
        self.max_fraction, self.temperature = float(max_fraction), float(temperature)
        self.alpha, self.gamma, self.w_box = float(alpha), float(gamma), float(w_box)
        self.run_iters = run_iters

    def max_steps(self) -> int:
        """How many of the run's first iterations are max steps."""
        # a small epsilon keeps a fraction like 1/3 of 60 at 20, not 21, after rounding error
        return math.ceil(self.max_fraction * run_length('SCRUB', self.run_iters, knob='run_iters') - 1e-9)

    def is_max_step(self, iteration: int) -> bool:
        return iteration < self.max_steps()

    def _distance(self, student: nn.Module, teacher: nn.Module, batch: Batch):
        """``d`` of the batch (with gradients to the student) and the student's fused features."""
        inputs, samples = batch['inputs'], batch['data_samples']
        fused = modal_feats(student, inputs, samples)['fused']
        with torch.no_grad():
            t = teacher.head_forward(modal_feats(teacher, inputs, samples)['fused'])
        return dense_distance(student.head_forward(fused), t, self.temperature, self.w_box), fused

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        """``loss_retain_distill``, ``loss_retain_detection`` and, in a max step,
        ``loss_forget_distill`` (negative: minimising it maximises the distance); ``scrub_max_step``
        (logged) is 1 in a max step."""
        d_retain, fused = self._distance(student, teacher, retain)
        head = student.head_loss(fused, retain['data_samples'])
        out = dict(loss_retain_distill=self.alpha * d_retain,
                   loss_retain_detection=self.gamma * sum_head_losses(head))
        max_step = self.is_max_step(iteration)
        if max_step:
            d_forget, _ = self._distance(student, teacher, forget)
            out['loss_forget_distill'] = -d_forget
        out['scrub_max_step'] = fused.new_tensor(float(max_step))
        return out
