"""Gradients of a detector's detection loss over batches, and what the pre-passes make of them.

Shared by the objectives whose pre-pass scores weights by the forget set's gradients
(``docs/method.md``): SalUn keeps the weights of largest saliency ``|grad of the forget loss|``
(:func:`gradient_sums`, :func:`top_fraction_mask`), SSD compares mean squared gradients
(``power=2``) on the forget set and on all training data. :class:`ParameterBuffers` holds one
tensor per parameter in the objective's state, so a checkpoint carries a pre-pass's result.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, Tuple

import torch
from torch import Tensor, nn

from .objectives.base import Batch
from .objectives.common import head_loss_terms

LossFn = Callable[[nn.Module, Batch], Tensor]


def detection_loss(model: nn.Module, batch: Batch) -> Tensor:
    """The sum of the head's loss terms on the batch in fusion mode (the baselines' detection
    loss, :func:`~ccu_av.unlearning.objectives.common.head_loss_terms`)."""
    return sum(head_loss_terms(model, batch['inputs'], batch['data_samples']).values())


def trainable_parameters(model: nn.Module) -> Dict[str, nn.Parameter]:
    """The parameters an optimiser would update (``requires_grad``), by name."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with every submodule in eval mode (batch norms use, and keep, their running
    statistics), then restore each one's mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def gradient_sums(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn = detection_loss,
                  power: int = 1) -> Tuple[Dict[str, Tensor], int]:
    """``sum over batches of (d loss_fn(model, batch) / d theta) ** power`` for every trainable
    parameter ``theta`` (zeros where the loss does not reach it), and the number of batches.

    The model runs in eval mode; its parameters' ``.grad`` are left untouched.
    """
    params = trainable_parameters(model)
    sums = {name: torch.zeros_like(p) for name, p in params.items()}
    count = 0
    with eval_mode(model), torch.enable_grad():
        for batch in batches:
            grads = torch.autograd.grad(loss_fn(model, batch), list(params.values()),
                                        allow_unused=True)
            for name, grad in zip(params, grads):
                if grad is not None:
                    sums[name] += grad.pow(power)
            count += 1
    if count == 0:
        raise ValueError('gradient_sums: no batches (an empty set has no gradient)')
    return sums, count


def top_fraction_mask(scores: Dict[str, Tensor], fraction: float) -> Dict[str, Tensor]:
    """True at the ``round(fraction * n)`` largest of the ``n`` scores of all tensors together
    (one ranking across parameters, as SalUn's), as bool tensors of each score's shape."""
    if not 0 <= fraction <= 1:
        raise ValueError(f'fraction must be in [0, 1], got {fraction}')
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[flat.topk(round(fraction * flat.numel())).indices] = True
    masks, start = {}, 0
    for name, s in scores.items():
        masks[name] = keep[start:start + s.numel()].view(s.shape)
        start += s.numel()
    return masks


class ParameterBuffers(nn.Module):
    """One tensor per parameter name, held as buffers (in the state dict, so in checkpoints).

    Filled by :meth:`set` (the pre-pass), or from a state dict's entries when one is loaded
    (a resumed run, whose objective is built empty). Buffer names cannot hold ``'.'``: a
    parameter ``a.b`` is stored as ``a/b``.
    """

    def set(self, tensors: Dict[str, Tensor]) -> None:
        for name, value in tensors.items():
            self.register_buffer(name.replace('.', '/'), value)

    def as_dict(self) -> Dict[str, Tensor]:
        return {key.replace('/', '.'): value for key, value in self._buffers.items()}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key, value in state_dict.items():
            name = key[len(prefix):]
            if key.startswith(prefix) and '.' not in name and name not in self._buffers:
                self.register_buffer(name, torch.empty_like(value))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
