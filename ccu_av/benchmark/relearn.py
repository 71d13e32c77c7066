"""The relearning check: how fast forgotten camera knowledge comes back under fine-tuning.

A checkpoint is fine-tuned for a few iterations on the forget samples alone, with the original
detector's own training recipe at a constant learning rate, and its camera-only mAP on the forget
samples is measured after each number of iterations asked for. Run on the unlearned model and on
the visual retrain (which never saw the forget footage), it shows whether what was removed only
hides in the weights: an unlearned model that relearns much faster than the retrain did not forget.
"""
import copy
import hashlib
import json
import math
import os
import os.path as osp
import re
import time
from typing import Dict, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..evaluation.modal_eval import base_dataset_cfg, evaluate_modes, evaluator_of
from ..models.interface import MODALITIES
from ..models.weights import build_detector
from ..utils import file_sha256, release_dataloader_workers, write_json_atomic

RESULT_FILE = 'relearn.json'
_CHECKPOINT_NAME = re.compile(r'^iter_\d+\.pth$')


def relearn_curve(pretrain_cfg: Config, detector_cfg: Config, checkpoint: str, forget_tokens: Sequence[str],
                  eval_tokens: Sequence[str], iters: Sequence[int], lr: float, work_dir: str,
                  cache_dir: Optional[str] = None, mode: str = 'camera') -> Dict[int, float]:
    """Camera-only (``mode``) mAP on ``eval_tokens`` after fine-tuning ``checkpoint`` on the
    forget samples for each number of iterations of ``iters``.

    The fine-tuning is ``pretrain_cfg`` (model, data pipeline, optimiser, hooks of the detector's
    training) trained from ``checkpoint`` on ``forget_tokens`` alone, with their camera footage
    (any ``camera_erased_tokens``/``scenes`` selection of the recipe is dropped), at the constant
    learning rate ``lr`` (no schedule, no automatic lr scaling), without validation; it runs once,
    for ``max(iters)`` iterations, in ``work_dir``. The curve is cached in ``work_dir/relearn.json``
    under a key of the relearning and detector configs (less their work dirs), the checkpoint's
    sha256, the training info file's sha256, ``eval_tokens`` and ``mode``: a second call with the
    same inputs returns it without training. The intermediate checkpoints are deleted once
    evaluated; the training logs are kept.

    Args:
        pretrain_cfg: the detector's training config (``ccu_av.jobs.config.pretrain_config``), its
            training dataset a ``CamRadarNuScenesDataset`` (possibly in wrappers).
        detector_cfg: the detector's config for evaluation (``ccu_av.jobs.config.detector_config``).
        checkpoint: the weights to fine-tune, checked strictly against ``pretrain_cfg.model``.
        forget_tokens: the samples fine-tuned on.
        eval_tokens: the samples scored (e.g. the report's forget set).
        iters: increasing numbers of iterations, each >= 0; 0 scores ``checkpoint`` itself.
        lr: the optimiser's learning rate during fine-tuning, > 0.
        work_dir: the runner's work dir, and where ``relearn.json`` is written.
        cache_dir: root of the prediction cache (``evaluate_modes``), or None.
        mode: the modality mode scored (``ccu_av.models.interface.MODALITIES``).

    Returns:
        iterations -> mAP of ``mode`` on ``eval_tokens``, in the order of ``iters``.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: an argument is invalid (the message names it), a sample of ``eval_tokens`` is
            not in the evaluation dataroot, or the checkpoint does not fit the model.
    """
    forget, scored, iters = _check_arguments(checkpoint, forget_tokens, eval_tokens, iters, lr, mode)
    logger = MMLogger.get_current_instance()
    cfg = relearn_config(pretrain_cfg, checkpoint, forget, iters, lr, work_dir)
    key = relearn_key(cfg, detector_cfg, checkpoint, scored, mode)
    result_file = osp.join(work_dir, RESULT_FILE)
    cached = _read_result(result_file, key)
    if cached is not None:
        logger.info(f'relearning check of {checkpoint}: read from {result_file}')
        return cached

    build_detector(pretrain_cfg, checkpoint)  # mmengine's load_from is not strict: check here
    evaluator = evaluator_of(detector_cfg)
    unknown = [token for token in scored if not evaluator.has_sample(token)]
    if unknown:
        raise ValueError(f'eval_tokens: {len(unknown)} sample tokens are not in '
                         f'{evaluator.nusc.dataroot}/{evaluator.nusc.version}, e.g. {unknown[:3]}')

    _remove_checkpoints(work_dir)  # an interrupted earlier run's: never mistaken for this one's
    train_wall = 0.0
    if iters[-1] > 0:
        logger.info(f'relearning check of {checkpoint}: {iters[-1]} iterations on '
                    f'{len(forget)} forget samples at lr {lr:g} in {work_dir}')
        start = time.monotonic()
        runner = Runner.from_cfg(cfg)
        runner.train()
        train_wall = time.monotonic() - start
        release_dataloader_workers(runner)

    start = time.monotonic()
    curve = {}
    for i in iters:
        path = checkpoint if i == 0 else osp.join(work_dir, f'iter_{i}.pth')
        if not osp.isfile(path):
            raise RuntimeError(f'the relearning run in {work_dir} wrote no checkpoint {path}')
        figures = evaluate_modes(detector_cfg, path, {'forget': scored}, modes=(mode,), cache_dir=cache_dir)
        value = figures[mode]['forget']['mAP']
        if value is None:
            raise ValueError(f'{path}: the {mode} mAP on eval_tokens is undefined')
        curve[i] = float(value)
        logger.info(f'relearning check: {mode} mAP {curve[i]:.4f} after {i} iterations')
    write_json_atomic(result_file, dict(
        key=key, checkpoint=osp.abspath(checkpoint), mode=mode, lr=lr, num_forget=len(forget),
        num_eval=len(scored), curve=[[i, v] for i, v in curve.items()], wall_time_s=train_wall,
        eval_wall_time_s=time.monotonic() - start))
    _remove_checkpoints(work_dir)
    return curve


def relearn_config(pretrain_cfg: Config, checkpoint: str, forget_tokens: Sequence[str],
                   iters: Sequence[int], lr: float, work_dir: str) -> Config:
    """``pretrain_cfg`` as the relearning run: trained from ``checkpoint`` on ``forget_tokens``
    (with their camera footage) at the constant ``lr`` for ``max(iters)`` iterations, a checkpoint
    every ``gcd`` of the positive ``iters`` (all kept), no validation, in ``work_dir``."""
    cfg = copy.deepcopy(pretrain_cfg)  # Config.copy would share the caller's nested dicts
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset:  # wrappers (CBGS, repeat) resample the dataset they wrap
        dataset = dataset.dataset
    dataset.sample_tokens = sorted(forget_tokens)
    dataset.scenes = None
    dataset.camera_erased_tokens = None
    if 'optimizer' not in cfg.optim_wrapper:
        raise ValueError('pretrain_cfg: optim_wrapper has no single `optimizer` to set the lr of')
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    if cfg.get('auto_scale_lr') is not None:
        cfg.auto_scale_lr = dict(cfg.auto_scale_lr, enable=False)  # lr is meant literally
    max_iters = max(iters)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max(max_iters, 1), val_interval=max_iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    positive = [i for i in iters if i > 0]
    cfg.default_hooks = dict(cfg.get('default_hooks') or {}, checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=math.gcd(*positive) if positive else 1,
        max_keep_ckpts=-1, save_last=True, save_optimizer=False, save_param_scheduler=False))
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = work_dir
    return cfg


def relearn_key(cfg: Config, detector_cfg: Config, checkpoint: str, eval_tokens: Sequence[str],
                mode: str) -> str:
    """sha256 (16 hex digits) of what the curve depends on: the relearning config (less its work
    dir and checkpoint path) and the detector config (less its work dir), the checkpoint's and
    the training info file's sha256, the scored samples and the mode."""
    keyed, detector = cfg.copy(), detector_cfg.copy()
    keyed.work_dir = keyed.load_from = detector.work_dir = None
    info_file = _train_info_file(keyed)
    described = dict(relearn=keyed.pretty_text, detector=detector.pretty_text,
                     checkpoint=file_sha256(checkpoint),
                     train_info=file_sha256(info_file) if info_file else None,
                     eval_tokens=list(eval_tokens), mode=mode)
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _train_info_file(cfg: Config) -> Optional[str]:
    """The training dataset's info file, when it is a local file."""
    dataset = base_dataset_cfg(cfg.train_dataloader.dataset)
    path = dataset.get('ann_file')
    if path and not osp.isabs(path) and dataset.get('data_root'):
        path = osp.join(dataset['data_root'], path)
    return path if path and osp.isfile(path) else None


def _check_arguments(checkpoint: str, forget_tokens: Sequence[str], eval_tokens: Sequence[str],
                     iters: Sequence[int], lr: float, mode: str):
    """``(forget tokens sorted, eval tokens as a list, iters as a list)``, or the argument's error."""
    token_lists = []
    for name, tokens in (('forget_tokens', forget_tokens), ('eval_tokens', eval_tokens)):
        if isinstance(tokens, str):
            raise ValueError(f'{name}: expected a sequence of sample tokens, got the string {tokens!r}')
        tokens = list(tokens)
        if not tokens:
            raise ValueError(f'{name} is empty: the relearning check needs at least one sample')
        token_lists.append(tokens)
    forget, scored = token_lists
    if len(set(scored)) != len(scored):
        raise ValueError(f'eval_tokens: {len(scored) - len(set(scored))} duplicated sample tokens')
    if isinstance(iters, (str, bytes)) or not list(iters):
        raise ValueError(f'iters must be a non-empty sequence of iteration counts, got {iters!r}')
    iters = list(iters)
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in iters):
        raise ValueError(f'iters must be integers >= 0, got {iters}')
    if any(b <= a for a, b in zip(iters, iters[1:])):
        raise ValueError(f'iters must be strictly increasing (sorted, no duplicates), got {iters}')
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f'lr must be a finite number > 0, got {lr!r}')
    if mode not in MODALITIES:
        raise ValueError(f'mode must be one of {MODALITIES}, got {mode!r}')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    return sorted(set(forget)), scored, iters


def _read_result(path: str, key: str) -> Optional[Dict[int, float]]:
    """The curve of ``path`` when it was computed under ``key``, else None."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        try:
            result = json.load(f)
        except json.JSONDecodeError:
            return None  # written atomically, so only a foreign file: computed anew
    if not isinstance(result, dict) or result.get('key') != key:
        return None
    return {int(i): float(v) for i, v in result['curve']}


def _remove_checkpoints(work_dir: str) -> None:
    """Delete the runner's ``iter_<n>.pth`` files in ``work_dir`` and its ``last_checkpoint``
    pointer to them; the logs stay."""
    if not osp.isdir(work_dir):
        return
    for name in os.listdir(work_dir):
        if _CHECKPOINT_NAME.match(name) or name == 'last_checkpoint':
            os.remove(osp.join(work_dir, name))
