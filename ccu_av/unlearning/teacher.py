"""The teacher: a frozen copy of the original model, the reference of the objectives' terms.

The :class:`~ccu_av.unlearning.model.UnlearningModel` holds it as its ``teacher`` submodule, so
its weights are in the model's ``state_dict`` (plain tensors) and come back on ``--resume``;
it is never trained and always in eval mode.
"""
import copy

from torch import nn


def snapshot_teacher(model: nn.Module) -> nn.Module:
    """A deep copy of ``model``, in eval mode, with every parameter frozen."""
    teacher = copy.deepcopy(model)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher
