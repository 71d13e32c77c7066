"""The main job of ``tools/unlearn.py``: data -> original model -> CCU -> evaluation -> report.

Steps (each cached, so a second run only redoes what changed):

1. the dataset and its info files (the synthetic default is written when absent);
2. the takedown's forget / retain sets (written to ``<work_dir>/takedown/``);
3. the original detector: the configured checkpoint, or pretrained once and cached;
4. CCU through a stock mmengine Runner with the ``CCUHook`` (``<work_dir>/ccu/``);
5. optionally the visual-retrain reference (cached like the pretraining);
6. evaluation of every model on forget / retain / validation in fusion, camera-only and
   radar-only mode, membership inference, and ``report.json`` / ``report.md`` / ``report.png``.
"""
import copy
import hashlib
import json
import os.path as osp
import time
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..evaluation import report_checkpoints
from ..evaluation.prediction_cache import file_sha256, write_json_atomic
from .job_steps import _export_weights, cached_training, ensure_dataset, release_dataloader_workers, takedown_sets

JOB_FILE = 'job.json'


class WorkDirConflict(RuntimeError):
    """The work dir holds another job's results."""


def job_identity(cfg: Config) -> Dict[str, str]:
    """What makes two runs the same job: the config (less its work dir) and the takedown."""
    cfg = cfg.copy()
    cfg.work_dir = None
    cfg.resume = False
    cfg.load_from = None
    return dict(config_sha256=hashlib.sha256(cfg.pretty_text.encode()).hexdigest(),
                takedown=json.dumps(cfg.job.takedown, sort_keys=True, default=list))


def claim_work_dir(work_dir: str, cfg: Config) -> None:
    """Refuse a work dir that holds another job's results; mark it as this job's."""
    identity = job_identity(cfg)
    path = osp.join(work_dir, JOB_FILE)
    if osp.isfile(path):
        with open(path) as f:
            other = json.load(f)
        if other != identity:
            raise WorkDirConflict(
                f'work dir {work_dir} holds the results of another job (config sha256 '
                f'{other.get("config_sha256", "?")[:12]}, takedown {other.get("takedown")}); '
                f'this one is {identity["config_sha256"][:12]}, takedown {identity["takedown"]}. '
                'Pass a fresh --work-dir: results of different jobs are never mixed.')
        return
    write_json_atomic(path, identity)


def dataset_settings(cfg: Config) -> dict:
    """``data_root``, ``version`` and info-file names of the config's training dataset."""
    dataset = cfg.train_dataloader.dataset
    version = cfg.get('data_version', None)
    if version is None:
        raise KeyError(f'{cfg.filename}: the config must name the table folder as data_version')
    return dict(data_root=dataset.data_root, version=version)


def original_model(cfg: Config, infos: Dict[str, str]) -> dict:
    """The configured original checkpoint, or the pretrained and cached one."""
    job = cfg.job
    if job.get('pretrained_checkpoint'):
        path = job.pretrained_checkpoint
        if not osp.isfile(path):
            raise FileNotFoundError(f'job.pretrained_checkpoint {path} does not exist')
        return dict(checkpoint=path, wall_time_s=None, samples_seen=None,
                    checkpoint_sha256=file_sha256(path))
    return cached_training(_pretrain_cfg(cfg), job.cache_dir, 'original', [infos['train']])


def visual_retrain(cfg: Config, infos: Dict[str, str], forget_tokens: List[str]) -> dict:
    """The visual-retrain reference: pretraining from scratch with the forget samples' camera
    footage erased (their radar and boxes kept), cached like the original model.

    The forget tokens are written into the training config itself, so the cache key follows
    the takedown's content, not the path of its token file.
    """
    retrain_cfg = _pretrain_cfg(cfg)
    retrain_cfg.train_dataloader.dataset.camera_erased_tokens = sorted(forget_tokens)
    return cached_training(retrain_cfg, cfg.job.cache_dir, 'visual_retrain', [infos['train']])


def _pretrain_cfg(cfg: Config) -> Config:
    pretrain_cfg = Config.fromfile(cfg.job.pretrain_config)
    _point_data_at(pretrain_cfg, cfg)
    return pretrain_cfg


def _point_data_at(target: Config, source: Config) -> None:
    """Make ``target``'s datasets read the data root of ``source``."""
    data_root = source.train_dataloader.dataset.data_root
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if target.get(loader) and target[loader].get('dataset'):
            target[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        if target.get(evaluator) and 'data_root' in target[evaluator]:
            target[evaluator].data_root = data_root


def ccu_runner_cfg(cfg: Config, work_dir: str, checkpoint: str, token_files: Dict[str, str],
                   resume: bool) -> Config:
    """The Runner config of the CCU run: retain set in the train loader, forget set in the hook."""
    run = cfg.copy()
    run.work_dir = osp.join(work_dir, 'ccu')
    run.train_dataloader.dataset.sample_tokens = token_files['retain_tokens.json']
    hooks = [h for h in run.custom_hooks if h.get('type') == 'CCUHook']
    if len(hooks) != 1:
        raise ValueError(f'{cfg.filename}: custom_hooks must hold exactly one CCUHook, found {len(hooks)}')
    # the top-level ``ccu`` dict (the objective's weights; dicts merge through _base_, so ablation
    # configs override single weights) goes into the hook's CCU arguments
    weights = run.pop('ccu', None)
    if weights:
        hooks[0].ccu = dict(hooks[0].get('ccu') or {}, **weights)
    forget = copy.deepcopy(run.train_dataloader.dataset)
    forget.sample_tokens = token_files['forget_tokens.json']
    hooks[0].forget_dataloader.dataset = forget
    if resume:
        run.resume, run.load_from = True, None
    else:
        run.resume, run.load_from = False, checkpoint
    run.pop('job')
    return run


def run_ccu(cfg: Config, work_dir: str, checkpoint: str, token_files: Dict[str, str],
            resume: bool) -> dict:
    """Unlearn with CCU; returns the unlearned weights' path and the wall time."""
    run = ccu_runner_cfg(cfg, work_dir, checkpoint, token_files, resume)
    start = time.monotonic()
    runner = Runner.from_cfg(run)
    runner.train()
    wall = time.monotonic() - start
    release_dataloader_workers(runner)
    path = osp.join(work_dir, 'unlearned.pth')
    _export_weights(runner.model, path, dict(name='ccu', iters=runner.iter,
                                             original=osp.abspath(checkpoint)))
    return dict(checkpoint=path, wall_time_s=wall,
                samples_seen=runner.iter * run.train_dataloader.batch_size,
                checkpoint_sha256=file_sha256(path))


REFERENCES = ('visual-retrain',)


def run_job(cfg: Config, work_dir: str, resume: bool = False,
            reference: Optional[str] = None, config_path: Optional[str] = None) -> dict:
    """Run the main job (module doc); returns the paths it produced and the report's."""
    if reference is not None and reference not in REFERENCES:
        raise ValueError(f'unknown reference {reference!r}; expected one of {REFERENCES}')
    logger = MMLogger.get_current_instance()
    claim_work_dir(work_dir, cfg)
    data = dataset_settings(cfg)
    infos = ensure_dataset(data['data_root'], data['version'], cfg.job.get('synthetic'))
    sets = takedown_sets(infos['train'], infos['val'], dict(cfg.job.takedown),
                         osp.join(work_dir, 'takedown'), cfg.job.retain_eval_scenes_per_location,
                         cfg.job.get('forget_eval_scenes', None))
    logger.info(f'takedown: {len(sets["forget"])} forget samples, {len(sets["retain"])} retain samples')
    token_files = {name: osp.join(work_dir, 'takedown', name)
                   for name in ('forget_tokens.json', 'retain_tokens.json')}
    original = original_model(cfg, infos)
    unlearned = run_ccu(cfg, work_dir, original['checkpoint'], token_files, resume)
    logger.info(f'CCU done in {unlearned["wall_time_s"]:.0f} s: {unlearned["checkpoint"]}')
    models = dict(original=dict(original, role='original'), ccu=dict(unlearned, role='unlearned'))
    if reference == 'visual-retrain':
        models['visual_retrain'] = dict(visual_retrain(cfg, infos, sets['forget']),
                                        role='visual_retrain')
    eval_sets = dict(forget=sets['forget_eval'], retain=sets['retain_eval'], val=sets['val'],
                     val_other=sets['val_other'])
    report = report_checkpoints(
        _pretrain_cfg(cfg), models, eval_sets, osp.join(work_dir, 'report'),
        cache_dir=osp.join(cfg.job.cache_dir, 'predictions'), config_path=config_path,
        membership=cfg.job.get('membership', True),
        membership_kwargs=cfg.job.get('membership_kwargs', None))
    return dict(sets=sets, models=models, report=report)
