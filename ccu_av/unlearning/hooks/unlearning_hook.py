"""``UnlearningHook``: the phases of an unlearning run outside the training step.

The objective's terms run inside :class:`~ccu_av.unlearning.model.UnlearningModel`'s forward;
this hook runs what happens around the steps (``ccu_av/unlearning/objectives/base.py``):

- before the first step: checks that the original checkpoint cannot be overwritten and that
  ``load_from`` is unset (it would load detector weights into the unlearning model's keys
  non-strictly, i.e. not at all); then, on a fresh start, the objective's pre-pass over the
  forget set, and the retain set and held-out samples if the objective reads them
  (``prepass_reads_retain``, ``prepass_reads_holdout``); on a
  resume its result comes back with the checkpoint;
- around each step: the parameters the objective's ``update_mask`` restricts are put back, entry
  by entry, to their values before the step, after the optimiser stepped, so that neither weight
  decay nor momentum moves a masked weight.
"""
import os.path as osp
import re
from typing import Dict, Optional

import torch
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper

from mmdet3d.registry import HOOKS

from ..model import UnlearningModel
from ..paired_data import PairedDataset, forget_batches, holdout_batches, retain_batches

# names mmengine's CheckpointHook writes into its output folder
WRITTEN_NAMES = re.compile(r'^((iter|epoch)_\d+\.pth|best_.*\.pth|last_checkpoint)$')


@HOOKS.register_module()
class UnlearningHook(Hook):
    """Pre-pass and update mask of an :class:`UnlearningModel`'s objective (see module doc).

    Args:
        prepass_batch_size: samples per batch of the pre-pass.
        prepass_retain_samples: retain samples a pre-pass that reads the retain set sees, evenly
            spaced over it; ``None``: all of them.
        prepass_holdout_samples: held-out samples a pre-pass that reads them sees, evenly
            spaced over the training dataset's held-out samples; ``None``: all of them.
    """

    priority = 'NORMAL'

    def __init__(self, prepass_batch_size: int = 1, prepass_retain_samples: Optional[int] = None,
                 prepass_holdout_samples: Optional[int] = None):
        if prepass_batch_size <= 0:
            raise ValueError(f'prepass_batch_size must be positive, got {prepass_batch_size}')
        if prepass_retain_samples is not None and prepass_retain_samples <= 0:
            raise ValueError(f'prepass_retain_samples must be positive or None, got '
                             f'{prepass_retain_samples}')
        if prepass_holdout_samples is not None and prepass_holdout_samples <= 0:
            raise ValueError(f'prepass_holdout_samples must be positive or None, got '
                             f'{prepass_holdout_samples}')
        self.prepass_batch_size = int(prepass_batch_size)
        self.prepass_retain_samples = prepass_retain_samples
        self.prepass_holdout_samples = prepass_holdout_samples
        self._before_step: Dict[str, torch.Tensor] = {}
        self._mask: Optional[Dict[str, torch.Tensor]] = None

    def before_run(self, runner) -> None:
        model = _unwrap(runner.model)
        if not isinstance(model, UnlearningModel):
            raise TypeError(f'UnlearningHook needs an UnlearningModel, got {type(model).__name__}')
        if getattr(runner, '_load_from', None) and not getattr(runner, '_resume', False):
            raise ValueError(f'load_from={runner._load_from!r} does not apply to an unlearning '
                             'model: give the original as model.original_checkpoint')
        _check_not_overwritten(runner, model.original_checkpoint)

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        objective = model.objective
        if objective.has_prepass and not int(model.prepass_done):
            self._prepass(runner, model)
        self._mask = objective.update_mask(model.student)
        if self._mask is not None:
            params = dict(model.student.named_parameters())
            unknown = sorted(set(self._mask) - set(params))
            if unknown:
                raise ValueError(f'{type(objective).__name__}.update_mask names parameters the '
                                 f'detector does not have: {unknown[:5]}')

    def _prepass(self, runner, model: UnlearningModel) -> None:
        """The objective's pre-pass over the forget set (and the retain set, if it reads it)."""
        objective = model.objective
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, PairedDataset):
            raise TypeError(f'{type(objective).__name__}\'s pre-pass reads the forget set of '
                            f'a PairedDataset; the train dataset is a {type(dataset).__name__}')
        preprocess = model.student.data_preprocessor
        size = self.prepass_batch_size
        extra, seen = {}, f'{dataset.num_forget} forget samples'
        if objective.prepass_reads_retain:
            num_retain = min(self.prepass_retain_samples or dataset.num_retain, dataset.num_retain)
            extra['retain_batches'] = (preprocess(batch, False) for batch in
                                       retain_batches(dataset, size, num_retain))
            seen += f' and {num_retain} retain samples'
        if objective.prepass_reads_holdout:
            held = holdout_batches(dataset, size, self.prepass_holdout_samples)
            extra['holdout_batches'] = (preprocess(batch, False) for batch in held)
            seen += ' and held-out samples'
        MMLogger.get_current_instance().info(f'{type(objective).__name__}: pre-pass over {seen}')
        batches = (preprocess(batch, False) for batch in forget_batches(dataset, size))
        objective.prepass(model.student, model.teacher, batches, **extra)
        model.prepass_done.fill_(1)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._mask is None:
            return
        params = dict(_unwrap(runner.model).student.named_parameters())
        self._before_step = {name: params[name].detach().clone() for name in self._mask}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._mask is None:
            return
        params = dict(_unwrap(runner.model).student.named_parameters())
        with torch.no_grad():
            for name, allowed in self._mask.items():
                param = params[name]
                param.copy_(torch.where(allowed.to(param.device), param, self._before_step[name]))
        self._before_step = {}


def _check_not_overwritten(runner, checkpoint: Optional[str]) -> None:
    """Refuse an original checkpoint that the checkpoint hook could overwrite."""
    if not checkpoint or '://' in str(checkpoint):
        return
    out_dirs = {osp.realpath(runner.work_dir)}
    out_dirs |= {osp.realpath(h.out_dir) for h in runner.hooks
                 if isinstance(h, CheckpointHook) and isinstance(getattr(h, 'out_dir', None), str)}
    path = osp.realpath(checkpoint)
    if osp.dirname(path) in out_dirs and WRITTEN_NAMES.match(osp.basename(path)):
        raise ValueError(f'original_checkpoint {checkpoint} lies in the output folder under a name '
                         'the checkpoint hook writes; copy it elsewhere so it cannot be overwritten')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model
