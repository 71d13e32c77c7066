"""What a job config holds, checked, and the configs derived from it.

A job config (``configs/_base_/jobs/takedown.py`` and the method configs on it) is an mmengine
config of an :class:`~ccu_av.unlearning.UnlearningModel` trained on an
:class:`~ccu_av.unlearning.UnlearningDataset`, plus a ``job`` section that only the job steps
read. Everything else is derived from it: the detector's config (for evaluation), the
pretraining config of the original and the references, the takedown request.
"""
import copy
import dataclasses
import os.path as osp
from typing import Optional

from mmengine.config import Config

from ..datasets import TakedownRequest
from ..datasets.synthetic import SyntheticNuScenesConfig
from ..evaluation.modal_eval import base_dataset_cfg
from ..unlearning.paired_data import info_file_of
from ..utils.cli import load_config

# the keys of the ``job`` section, each read by a job step (configs/_base_/jobs/takedown.py)
JOB_KEYS = ('synthetic', 'pretrain_config', 'cache_dir', 'retain_eval_scenes_per_location',
            'forget_eval_scenes', 'membership', 'membership_kwargs')


# what ``job.membership_kwargs`` may set: the attack's options (evaluation.membership_inference)
MEMBERSHIP_KWARGS = ('folds', 'l2', 'seed', 'group_by_scene')


# what ``job.synthetic`` may set: the writer's seed and its options, less the table folder's name
# (the config's data_version; jobs.steps.data)
SYNTHETIC_KEYS = ('seed',) + tuple(f.name for f in dataclasses.fields(SyntheticNuScenesConfig) if f.name != 'version')


def _check_keys(section, known: tuple, name: str, source: str) -> None:
    """Raise ``ValueError`` naming the unknown keys of a dict section (None: nothing to check)."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise ValueError(f'{source}: {name} must be a dict of {list(known)}, got {section!r}')
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ValueError(f'{source}: unknown {name} keys {unknown}; {name} has {list(known)}')


def check_job_config(cfg: Config, source: str = 'the job config') -> None:
    """Raise ``ValueError`` for a config that is not a job config, or an unknown key of the job
    section or of its ``synthetic`` and ``membership_kwargs`` parts."""
    if 'job' not in cfg:
        raise ValueError(f'{source} has no `job` section (see configs/_base_/jobs/takedown.py)')
    unknown = sorted(set(cfg.job) - set(JOB_KEYS))
    if unknown:
        raise ValueError(f'{source}: unknown job keys {unknown}; the job section has {list(JOB_KEYS)}')
    _check_keys(cfg.job.get('synthetic'), SYNTHETIC_KEYS, 'job.synthetic', source)
    _check_keys(cfg.job.get('membership_kwargs'), MEMBERSHIP_KWARGS, 'job.membership_kwargs', source)
    if cfg.model.get('type') != 'UnlearningModel':
        raise ValueError(f'{source}: model.type must be UnlearningModel, got {cfg.model.get("type")!r}')
    if cfg.train_dataloader.dataset.get('type') != 'UnlearningDataset':
        raise ValueError(f'{source}: train_dataloader.dataset.type must be UnlearningDataset, '
                         f'got {cfg.train_dataloader.dataset.get("type")!r}')


def load_job_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The job config of ``path`` with ``cfg_options`` merged in, checked
    (:func:`check_job_config`); ``FileNotFoundError`` / ``ValueError`` name what is wrong."""
    cfg = load_config(path, cfg_options)
    check_job_config(cfg, path)
    return cfg


def training_dataset(cfg: Config) -> dict:
    """The config of the training dataset the takedown is selected from."""
    return cfg.train_dataloader.dataset.dataset


def takedown_request(cfg: Config) -> TakedownRequest:
    """The job's takedown request (``train_dataloader.dataset.takedown``)."""
    return TakedownRequest.coerce(cfg.train_dataloader.dataset.takedown)


def data_settings(cfg: Config) -> dict:
    """``data_root``, ``version``, and the info files of the job's training dataset and of its
    test dataset (the validation split) under that data root."""
    version = cfg.get('data_version', None)
    if version is None:
        raise ValueError(f'{cfg.filename}: the config must name the table folder as data_version')
    dataset = training_dataset(cfg)
    test = dict(base_dataset_cfg(cfg.test_dataloader.dataset), data_root=dataset.data_root)
    return dict(data_root=dataset.data_root, version=version, train_info=info_file_of(dataset),
                val_info=info_file_of(test))


def detector_config(cfg: Config) -> Config:
    """The job config as the detector's own: ``model`` is the unlearning model's detector and the
    training dataset the one the takedown selects from (what evaluation builds and reads). A deep
    copy: what reads it may change it without changing the job config."""
    out = copy.deepcopy(cfg)
    out.model = out.model.detector
    dataset = training_dataset(out)
    out.train_dataloader = dict(
        {k: v for k, v in out.train_dataloader.items() if k not in ('batch_sampler', 'collate_fn')},
        dataset=dataset)
    out.pop('job')
    point_data_at(out, dataset.data_root)
    return out


def pretrain_config(cfg: Config) -> Config:
    """``job.pretrain_config`` (schedule, optimiser, data pipeline of the original's training)
    with the job's detector and data root."""
    path = cfg.job.pretrain_config
    if not osp.isfile(path):
        raise FileNotFoundError(f'job.pretrain_config {path} does not exist')
    out = Config.fromfile(path)
    out.model = copy.deepcopy(cfg.model.detector)
    point_data_at(out, training_dataset(cfg).data_root)
    return out


def point_data_at(cfg: Config, data_root: str) -> None:
    """Make every dataset and evaluator of ``cfg`` read ``data_root`` (the job's one data root:
    the training dataset's)."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) and cfg[loader].get('dataset'):
            cfg[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        if cfg.get(evaluator) and 'data_root' in cfg[evaluator]:
            cfg[evaluator].data_root = data_root
