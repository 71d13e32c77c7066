"""The objective interface every unlearning method implements, and its registry.

An objective is an ``nn.Module`` (so whatever state it keeps, e.g. a saliency mask, is part of
the unlearning model's ``state_dict``, saved in its checkpoints and restored on ``--resume``)
that :class:`~ccu_av.unlearning.model.UnlearningModel` calls with the student, the frozen
teacher and one paired batch. Its phases, in the order a run meets them:

1. :meth:`prepass`: once, before the first training step, over the forget set (SalUn's saliency
   mask), and over the retain set too for an objective with ``prepass_reads_retain`` (SSD's
   importances on all training data); skipped on resume, where the state comes from the
   checkpoint. Called by :class:`~ccu_av.unlearning.hooks.UnlearningHook`.
2. :meth:`loss`: every step, inside the model's forward (so mmengine's DDP wrapper synchronises
   the gradients); ``iteration`` is the runner's, so alternating phases (SCRUB's max and min
   steps) are a function of it and resume exactly.
3. :meth:`update_mask`: which entries of which parameters an update may change. The hook puts
   every other entry back to its value before the step, after the optimiser has stepped, so
   neither weight decay nor momentum can move a masked weight.
"""
import inspect
from typing import Dict, Iterable, Optional

from mmengine.registry import Registry
from torch import Tensor, nn

Batch = dict  # dict(inputs=..., data_samples=[...]) as the detector's data preprocessor returns it


def _build_objective(cfg: dict, registry: Registry, default_args=None) -> 'UnlearningObjective':
    """``registry.get(cfg['type'])(**rest)``, without mmengine's switch to the default scope (the
    objectives' registry is ccu_av's own, outside mmdet3d's registry tree)."""
    cfg = dict(cfg, **(default_args or {}))
    name = cfg.pop('type', None)
    cls = registry.get(name) if isinstance(name, str) else name
    if cls is None:
        raise ValueError(f'model.objective.type {name!r} is not a registered unlearning objective; registered: '
                       f'{sorted(registry.module_dict)}')
    known = [p for p in inspect.signature(cls).parameters if p not in ('args', 'kwargs')]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    unknown = sorted(set(cfg) - set(known))
    if unknown and not takes_any:
        raise ValueError(f'model.objective ({cls.__name__}): unknown arguments {unknown}; it takes {known}')
    return cls(**cfg)


OBJECTIVES = Registry('unlearning objective', build_func=_build_objective,
                      locations=['ccu_av.unlearning.objectives'])


class UnlearningObjective(nn.Module):
    """Base of the registered objectives (see module doc); subclasses implement :meth:`loss`.

    Class attributes:
        needs_forget: the objective reads forget batches (``False``: the data pipeline may serve
            retain batches alone).
        has_prepass: :meth:`prepass` does something; the model refuses to train before it ran.
        prepass_reads_retain: :meth:`prepass` reads the retain set too (it is then given
            ``retain_batches``).
        prepass_reads_holdout: :meth:`prepass` reads held-out samples too, ones the original
            never trained on (it is then given ``holdout_batches``).
    """

    needs_forget = True
    has_prepass = False
    prepass_reads_retain = False
    prepass_reads_holdout = False

    def prepass(self, student: nn.Module, teacher: nn.Module, forget_batches: Iterable[Batch],
                retain_batches: Optional[Iterable[Batch]] = None,
                holdout_batches: Optional[Iterable[Batch]] = None) -> None:
        """Compute the objective's state from the forget set before training (default: none).

        Args:
            forget_batches: every forget sample once, in preprocessed batches.
            retain_batches: with ``prepass_reads_retain``, the retain samples (every one, or
                the hook's ``prepass_retain_samples`` of them) once, in preprocessed batches;
                ``None`` otherwise.
            holdout_batches: with ``prepass_reads_holdout``, the held-out samples (the hook's
                ``prepass_holdout_samples`` of them), the same way; ``None`` otherwise.
        """

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        """The step's terms: names containing ``'loss'`` are summed by ``parse_losses``, the
        others are logged only."""
        raise NotImplementedError

    def update_mask(self, student: nn.Module) -> Optional[Dict[str, Tensor]]:
        """``{parameter name: bool tensor of its shape}``, True where an update may change the
        weight; parameters not named are not restricted. ``None`` (default): no restriction."""
        return None
