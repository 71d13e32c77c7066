"""The teacher: a frozen snapshot of the original model, the reference of every CCU term.

The teacher is held by the unlearning hook, never attached to the model, so it is not part of
the model's ``state_dict`` and never trained. For ``--resume`` its weights travel in the
checkpoint as a plain ``{name: tensor}`` dict (:func:`teacher_state`), which the safe loader of
:mod:`ccu_av.utils.checkpoint` accepts.
"""
import copy
from typing import Dict, Mapping

from torch import Tensor, nn


def snapshot_teacher(model: nn.Module) -> nn.Module:
    """A deep copy of ``model``, in eval mode, with every parameter frozen."""
    teacher = copy.deepcopy(model)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def teacher_state(teacher: nn.Module) -> Dict[str, Tensor]:
    """The teacher's weights and buffers as a plain dict of CPU tensors (for a checkpoint)."""
    return {name: value.detach().cpu().clone() for name, value in teacher.state_dict().items()}


def restore_teacher(model: nn.Module, state: Mapping[str, Tensor], source: str) -> nn.Module:
    """A frozen teacher with ``model``'s architecture and the weights ``state``.

    Args:
        source: where ``state`` came from, for the error message.

    Raises:
        ValueError: ``state`` does not match ``model``'s parameters and buffers.
    """
    teacher = snapshot_teacher(model)
    expected, got = set(teacher.state_dict()), set(state)
    if expected != got:
        raise ValueError(
            f'the teacher state in {source} does not fit the model: missing '
            f'{sorted(expected - got)[:5]}, unexpected {sorted(got - expected)[:5]}')
    teacher.load_state_dict(dict(state), strict=True)
    return teacher
