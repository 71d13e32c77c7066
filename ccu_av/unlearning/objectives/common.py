"""Loss pieces shared by the baseline objectives (``docs/method.md``, the baselines).

The detection loss of a batch is the head's loss in fusion mode through the modal interface
(``extract_modal_feats`` + ``head_loss``), not the detector's ``loss`` mode: no modality dropout
(its draws from the global random state would make a resumed run differ, and it would mix
single-modality samples into the batch's loss) and no camera auxiliaries (depth, image heatmap:
pretraining aids for the lifting, not the detection task). So a term is a function of the
weights and the batch alone, the same for every detector that offers the interface, and the
retain and forget sides of a method are the same function.
"""
from typing import Dict, List, Optional

from mmengine.logging import MessageHub
from torch import Tensor, nn

from ...models.interface import use_modality
from .base import Batch
from .ccu import sum_head_losses


def head_loss_terms(student: nn.Module, inputs: dict, samples: List) -> Dict[str, Tensor]:
    """The head's loss terms on a batch in fusion mode, each a scalar.

    Args:
        inputs: the batch's ``inputs``.
        samples: its data samples, or copies of them with other targets (relabelled, emptied).

    Returns:
        ``{name: scalar}`` for each head output whose name contains ``'loss'`` (a list of tensors
        summed, as mmengine's ``parse_losses`` counts it).
    """
    with use_modality(student, 'fusion'):
        fused = student.extract_modal_feats(inputs, samples)['fused']
        head = student.head_loss(fused, samples)
    if not any('loss' in name for name in head):
        raise ValueError(f'{type(student).__name__}.head_loss returned no loss terms: got '
                         f'{sorted(head)}')
    return {name: sum_head_losses({name: value}) for name, value in head.items() if 'loss' in name}


def retain_detection(student: nn.Module, retain: Batch, weight: float) -> Dict[str, Tensor]:
    """``retain_<term>``: ``weight`` times each head loss term of the retain batch (descended)."""
    terms = head_loss_terms(student, retain['inputs'], retain['data_samples'])
    return {f'retain_{name}': weight * value for name, value in terms.items()}


def bounded_ascent(student: nn.Module, forget: Batch, max_forget_loss: float,
                   weight: float) -> Dict[str, Tensor]:
    """Gradient ascent on each head loss term of the forget batch, up to a bound.

    ``forget_<term> = -weight * min(L_term, max_forget_loss)``: minimising it raises the term
    until it reaches ``max_forget_loss``, above which its gradient is 0 (ascent on a detection
    loss has no end: a head can always be made more wrong). ``forget_detection`` (logged, not
    summed): the sum of the unbounded terms, detached.
    """
    terms = head_loss_terms(student, forget['inputs'], forget['data_samples'])
    out = {f'forget_{name}': -weight * value.clamp(max=max_forget_loss)
           for name, value in terms.items()}
    out['forget_detection'] = sum(terms.values()).detach()
    return out


def check_bound(max_forget_loss: float) -> float:
    """``max_forget_loss`` if positive, else ``ValueError``."""
    if not max_forget_loss > 0:
        raise ValueError(f'max_forget_loss must be positive, got {max_forget_loss}')
    return float(max_forget_loss)


def run_length(method: str, explicit: Optional[int] = None, knob: str = '') -> int:
    """The run's length in iterations: ``explicit`` if given, else the running loop's ``max_iters``
    (mmengine's message hub; the takedown job's ``ForgetPassTrainLoop`` sets it from the forget
    set before the first iteration, and a resumed run computes the same). For a method whose
    schedule is a fraction of the run; ``knob`` names the option that would fix it instead."""
    total = explicit or MessageHub.get_current_instance().get_info('max_iters')
    if not total:
        hint = f'; set model.objective.{knob}' if knob else ''
        raise ValueError(f'{method}: no run length is known (mmengine\'s message hub has no '
                         f'max_iters){hint}')
    return int(total)
