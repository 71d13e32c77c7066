"""The steps of a takedown job, each callable alone with typed inputs and outputs.

    data     -> DataFiles      the dataset and its info files (the synthetic default written if absent)
    select   -> TakedownSets   forget / retain sets of the takedown, and the report's evaluation sets
    original -> TrainedModel   the configured original checkpoint, or pretrained once and cached
    unlearn  -> TrainedModel   any registered unlearning method, through a stock mmengine Runner
    reference-> TrainedModel   visual or full retrain with a seed, cached like the original
    report   -> report paths   every model on every set and mode, membership attack, report files

``tools/unlearn.py`` composes them; trained models are cached under ``job.cache_dir`` keyed by
the hash of their training config and data, so a second job only redoes what changed.
"""
import copy
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import mmengine
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..datasets import (REDACTION_FILE, TakedownSelection, create_nuscenes_infos, redaction_digest,
                        select_from_info_file)
from ..datasets.synthetic import (META_FILE, SyntheticNuScenesConfig, TRAIN_SPLIT, VAL_SPLIT,
                                  write_synthetic_nuscenes)
from ..evaluation import report_checkpoints
from ..evaluation.membership import MEMBERSHIP_SETS, collect_membership_features
from ..evaluation.modal_eval import check_sets, predict_checkpoint, union_tokens
from ..models.weights import build_detector
from ..utils import export_weights, file_sha256, read_json, release_dataloader_workers, write_json_atomic
from ..utils.dist import configure_runner, rank_and_world, run_on_rank_zero
from .config import data_settings, detector_config, pretrain_config, takedown_request

REFERENCES = ('visual-retrain', 'full-retrain')


@dataclass(frozen=True)
class DataFiles:
    """The info files of a dataroot."""
    train_info: str
    val_info: str

    def training_content(self) -> List[str]:
        """The files whose bytes a trained model's cache key covers: the training info file and,
        beside it, the synthetic writer's record of how the data was made (``META_FILE``) and the
        record of redacted camera footage (``REDACTION_FILE``). The info file alone does not
        change when only camera pixels do (a private site added, footage redacted), and hashing
        every image of a real dataroot would take minutes."""
        beside = [osp.join(osp.dirname(self.train_info), name) for name in (META_FILE, REDACTION_FILE)]
        return [self.train_info] + [path for path in beside if osp.isfile(path)]


@dataclass(frozen=True)
class TakedownSets:
    """Sample tokens of the takedown's sets (see :func:`select`)."""
    forget: Tuple[str, ...]
    retain: Tuple[str, ...]
    forget_eval: Tuple[str, ...]
    retain_eval: Tuple[str, ...]
    val: Tuple[str, ...]
    val_other: Tuple[str, ...]
    val_same: Tuple[str, ...] = ()
    selection: Optional[TakedownSelection] = field(default=None, compare=False, repr=False)

    def eval_sets(self) -> Dict[str, List[str]]:
        """The report's sets: forget, retain, val, val_other, and val_same where the validation
        split has samples of the takedown's locations."""
        sets = dict(forget=list(self.forget_eval), retain=list(self.retain_eval), val=list(self.val),
                    val_other=list(self.val_other))
        if self.val_same:
            sets['val_same'] = list(self.val_same)
        return sets


@dataclass(frozen=True)
class TrainedModel:
    """A checkpoint a step produced or was given, with what it cost."""
    checkpoint: str
    checkpoint_sha256: str
    wall_time_s: Optional[float] = None
    samples_seen: Optional[int] = None


def data(cfg: Config) -> DataFiles:
    """Make sure the job's dataroot and its info files exist (``job.synthetic``: write the
    synthetic dataset when the dataroot is absent; None: real data, which must be there)."""
    settings = data_settings(cfg)
    data_root, version = settings['data_root'], settings['version']
    synthetic = cfg.job.get('synthetic')
    logger = MMLogger.get_current_instance()
    if not osp.isdir(osp.join(data_root, version)):
        if synthetic is None:
            raise FileNotFoundError(
                f'data root {data_root} has no {version}/ table folder; point the config\'s '
                'data_root at a nuScenes dataroot (or leave the synthetic default in place)')
        if osp.isdir(data_root) and os.listdir(data_root):
            raise FileExistsError(
                f'data root {data_root} exists but holds no {version}/ folder; refusing to write '
                'the synthetic dataset into a non-empty folder')
        options = dict(synthetic)
        seed = options.pop('seed', 0)
        logger.info(f'writing the synthetic nuScenes dataset to {data_root} (seed {seed}; '
                    'a few minutes, once)')
        start = time.monotonic()
        write_synthetic_nuscenes(data_root, SyntheticNuScenesConfig(version=version, **options),
                                 seed=seed, workers=min(2, os.cpu_count() or 1))
        logger.info(f'synthetic dataset written in {time.monotonic() - start:.0f} s')
    elif synthetic is not None:
        _check_synthetic_data(data_root, version, dict(synthetic))
    files = DataFiles(train_info=settings['train_info'], val_info=settings['val_info'])
    if not all(osp.isfile(path) for path in (files.train_info, files.val_info)):
        logger.info(f'writing the info files of {data_root}')
        splits = dict(train_split=TRAIN_SPLIT, val_split=VAL_SPLIT) if synthetic is not None else {}
        create_nuscenes_infos(data_root, version, data_root, **splits)
    missing = [path for path in (files.train_info, files.val_info) if not osp.isfile(path)]
    if missing:
        raise FileNotFoundError(f'the job\'s datasets read {missing}, which tools/create_data.py did '
                                f'not write in {data_root}; check the ann_file of the train and '
                                'test dataloaders')
    return files


def _check_synthetic_data(data_root: str, version: str, synthetic: dict) -> None:
    """A synthetic dataroot already there must be the one ``job.synthetic`` asks for: a dataset
    written with other knobs (an older default, another seed) would silently change every result."""
    meta_file = osp.join(data_root, META_FILE)
    if not osp.isfile(meta_file):
        return  # not written by the synthetic writer: a real dataroot, used as it is
    meta = read_json(meta_file, 'rewrite the dataset')
    seed = synthetic.pop('seed', 0)
    wanted = dict(SyntheticNuScenesConfig(version=version, **synthetic).record(), seed=seed)
    found = dict(meta.get('config', {}), seed=meta.get('seed'))
    differ = sorted(k for k in set(wanted) | set(found) if json.dumps(wanted.get(k)) != json.dumps(found.get(k)))
    if differ:
        shown = ', '.join(f'{k}: {found.get(k)!r} there, {wanted.get(k)!r} asked' for k in differ)
        raise ValueError(f'data root {data_root} holds a synthetic dataset written with other settings '
                         f'({shown}); move it away to have the job write the one job.synthetic asks for, '
                         'or point the config\'s data_root elsewhere')


def select(cfg: Config, files: DataFiles, out_dir: Optional[str] = None) -> TakedownSets:
    """The takedown's forget / retain sets and the report's evaluation sets.

    ``forget`` are the flagged training samples and ``retain`` the others (what the method trains
    on); ``forget_eval`` the samples of the first ``job.forget_eval_scenes`` flagged scenes (all
    when None), ``retain_eval`` those of the first ``job.retain_eval_scenes_per_location`` retain
    scenes of each location (all when None): fixed samples keep evaluation fast on a large
    takedown; ``val`` the validation split, ``val_other`` its samples of the locations the
    takedown does not touch and ``val_same`` those of the locations it touches (the membership
    attack's comparison: unseen samples of the forget set's look). The selection is written to
    ``out_dir`` when one is given (:meth:`TakedownSelection.dump`; ``sets.selection.dump`` later).
    """
    forget_eval_scenes = cfg.job.get('forget_eval_scenes', None)
    per_location = cfg.job.get('retain_eval_scenes_per_location', None)
    for name, value in (('forget_eval_scenes', forget_eval_scenes),
                        ('retain_eval_scenes_per_location', per_location)):
        if value is not None and int(value) < 1:
            raise ValueError(f'job.{name} must be None (all scenes) or >= 1, got {value}')
    selection = select_from_info_file(files.train_info, takedown_request(cfg))
    train, val = _records(files.train_info), _records(files.val_info)
    forget = set(selection.forget_tokens)
    retain_eval, scenes_seen = [], {}
    for record in train:
        if record['token'] in forget:
            continue
        scenes = scenes_seen.setdefault(record['location'], [])
        if record['scene_name'] not in scenes:
            if per_location is not None and len(scenes) >= per_location:
                continue
            scenes.append(record['scene_name'])
        retain_eval.append(record['token'])
    flagged_locations = {r['location'] for r in train if r['token'] in forget}
    eval_scenes = set(selection.forget_scenes[:forget_eval_scenes])  # [:None]: all of them
    sets = TakedownSets(
        forget=selection.forget_tokens, retain=selection.retain_tokens,
        forget_eval=tuple(r['token'] for r in train if r['token'] in forget and r['scene_name'] in eval_scenes),
        retain_eval=tuple(retain_eval), val=tuple(r['token'] for r in val),
        val_other=tuple(r['token'] for r in val if r['location'] not in flagged_locations),
        val_same=tuple(r['token'] for r in val if r['location'] in flagged_locations), selection=selection)
    empty = [name for name, tokens in sets.eval_sets().items() if not tokens]
    if empty:
        raise ValueError(f'the takedown {selection.request} leaves the report sets {empty} empty '
                         '(val_other is empty when the takedown touches every location)')
    _check_membership_folds(cfg, sets, train + val)
    if out_dir is not None:
        selection.dump(out_dir)
    return sets


def _check_membership_folds(cfg: Config, sets: TakedownSets, records: List[dict]) -> None:
    """The membership attack's scene folds need that many scenes of members (``retain_eval``)
    and of non-members (``val``): refused here, before anything trains, not at the report."""
    if not cfg.job.get('membership', True):
        return
    kwargs = dict(cfg.job.get('membership_kwargs') or {})
    folds = int(kwargs.get('folds', 5))
    if not kwargs.get('group_by_scene', True):
        counts = dict(retain=len(sets.retain_eval), val=len(sets.val))
    else:
        scene_of = {r['token']: r['scene_name'] for r in records}
        counts = {name: len({scene_of[t] for t in tokens})
                  for name, tokens in (('retain', sets.retain_eval), ('val', sets.val))}
    short = {name: n for name, n in counts.items() if n < folds}
    if short:
        raise ValueError(f'the membership attack\'s {folds} folds need at least {folds} scenes in the report\'s '
                         f'retain and val sets, got {short}; raise job.retain_eval_scenes_per_location or '
                         'lower job.membership_kwargs.folds')


def _records(info_file: str) -> List[dict]:
    return [dict(token=i['token'], scene_name=i['scene_name'], location=i['location'])
            for i in mmengine.load(info_file)['data_list']]


def original(cfg: Config, files: DataFiles) -> TrainedModel:
    """``model.original_checkpoint`` when set, else the detector pretrained once with
    ``job.pretrain_config`` and cached."""
    path = cfg.model.get('original_checkpoint')
    if path:
        if not osp.isfile(path):
            raise FileNotFoundError(f'model.original_checkpoint {path} does not exist')
        return TrainedModel(checkpoint=path, checkpoint_sha256=file_sha256(path))
    return cached_training(pretrain_config(cfg), cfg.job.cache_dir, 'original', files.training_content())


def check_original(cfg: Config, model: TrainedModel) -> None:
    """Load ``model`` strictly into the job's detector (``ValueError`` naming the mismatching keys,
    ``CheckpointError`` for a file that is no checkpoint), before anything is trained from it."""
    build_detector(detector_config(cfg), model.checkpoint)


def check_method(cfg: Config) -> None:
    """Build the job's unlearning model (its objective and frozen modules) and its custom hooks
    from the config, without loading weights, so that an unknown objective, argument, module
    name or hook option is refused (``ValueError`` naming the config key) before anything is
    trained or the work dir is claimed."""
    from mmengine.registry import HOOKS, MODELS, DefaultScope
    model_cfg = copy.deepcopy(cfg.model)  # building may change nested configs; the job's stays as it is
    model_cfg.original_checkpoint = None
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmdet3d')):
        try:
            MODELS.build(model_cfg)
        except (TypeError, KeyError) as error:
            raise ValueError(f'model ({model_cfg.get("type")}): {error}') from error
        for index, hook in enumerate(cfg.get('custom_hooks') or []):
            try:
                HOOKS.build(copy.deepcopy(dict(hook)))
            except (TypeError, KeyError) as error:
                raise ValueError(f'custom_hooks[{index}] ({dict(hook).get("type")}): {error}') from error


def reference(cfg: Config, files: DataFiles, sets: TakedownSets, kind: str = 'visual-retrain',
              seed: Optional[int] = None) -> TrainedModel:
    """A retrain from scratch with ``job.pretrain_config``, cached like the original.

    ``visual-retrain``: the forget samples' camera footage erased, their radar and boxes kept
    (the target of visual unlearning); ``full-retrain``: the forget samples left out. The forget
    tokens are written into the training config itself, so the cache key follows the takedown's
    content. ``seed``: the training seed (None: the pretraining config's, so that the reference
    differs from the original only in the takedown's data).
    """
    if kind not in REFERENCES:
        raise ValueError(f'unknown reference {kind!r}; expected one of {REFERENCES}')
    retrain = pretrain_config(cfg)
    if kind == 'visual-retrain':
        retrain.train_dataloader.dataset.camera_erased_tokens = sorted(sets.forget)
    else:
        retrain.train_dataloader.dataset.sample_tokens = sorted(sets.retain)
    randomness = dict(retrain.get('randomness', {}))
    seed = int(randomness.get('seed', 0) if seed is None else seed)
    retrain.randomness = dict(randomness, seed=seed)
    name = f'{kind.replace("-", "_")}_seed{seed}'  # the config's own seed named too: one cache entry
    return cached_training(retrain, cfg.job.cache_dir, name, files.training_content())


def unlearn(cfg: Config, work_dir: str, original_model: TrainedModel, resume: bool = False,
            launcher: str = 'none') -> TrainedModel:
    """Run the configured unlearning model from ``original_model`` through mmengine's Runner in
    ``work_dir/unlearn``; the student's weights go to ``work_dir/unlearned.pth``.

    With a ``launcher`` (the process group already initialised, ``ccu_av.utils.dist``) every rank
    calls this: the Runner wraps the model in DDP, each rank trains on its own retain and forget
    shards, and rank 0 alone exports the student, the others waiting; every rank returns the
    same :class:`TrainedModel` (rank 0's wall time; ``samples_seen`` counts the retain samples
    of all ranks: iterations x batch size x world size).
    """
    run = cfg.copy()
    run.pop('job')
    run.work_dir = osp.join(work_dir, 'unlearn')
    run.model.original_checkpoint = original_model.checkpoint
    run.load_from = None
    run.resume = resume
    configure_runner(run, launcher)  # with a launcher: DDP finds unused parameters (utils.dist)
    if resume and not osp.isfile(osp.join(run.work_dir, 'last_checkpoint')):
        raise FileNotFoundError(f'--resume: {run.work_dir} holds no checkpoint to resume from')
    start = time.monotonic()
    runner = Runner.from_cfg(run)
    runner.train()
    wall = time.monotonic() - start
    release_dataloader_workers(runner)
    model = getattr(runner.model, 'module', runner.model)
    path = osp.join(work_dir, 'unlearned.pth')
    samples_seen = runner.iter * run.train_dataloader.batch_size * runner.world_size

    def export() -> TrainedModel:
        export_weights(model.student, path, dict(name=method_name(cfg), iters=runner.iter,
                                                 original=osp.abspath(original_model.checkpoint)))
        return TrainedModel(checkpoint=path, checkpoint_sha256=file_sha256(path), wall_time_s=wall,
                            samples_seen=samples_seen)

    return run_on_rank_zero(export)


def method_name(cfg: Config) -> str:
    """The unlearning method's name in reports: its objective's type, lower case."""
    return str(cfg.model.objective.type).lower()


def report(cfg: Config, models: Mapping[str, Tuple[str, TrainedModel]], sets: TakedownSets,
           out_dir: str, config_path: Optional[str] = None) -> Dict[str, str]:
    """Evaluate ``models`` (name -> (role, model)) on the report's sets in every mode, with the
    membership attack, and write ``report.json``, ``report.md`` and ``report.png`` to ``out_dir``.

    In a multi-process run every rank calls this: the models' predictions and membership
    features are computed with the samples sharded over the ranks and cached by rank 0
    (:func:`warm_prediction_cache`); rank 0 then builds and writes the report from the cache
    alone, the others waiting, and every rank returns its paths."""
    entries = {name: dict(asdict(model), role=role) for name, (role, model) in models.items()}
    membership = cfg.job.get('membership', True)
    if rank_and_world()[1] > 1:
        warm_prediction_cache(cfg, [model.checkpoint for _, model in models.values()], sets, membership)
    return run_on_rank_zero(
        report_checkpoints, detector_config(cfg), entries, sets.eval_sets(), out_dir,
        cache_dir=prediction_cache_dir(cfg), config_path=config_path, membership=membership,
        membership_kwargs=cfg.job.get('membership_kwargs', None))


def prediction_cache_dir(cfg: Config) -> str:
    """Where the report caches the job's predictions (``ccu_av.evaluation.PredictionCache``):
    redacted footage changes what a model sees, so predictions made before a redaction are
    not reused after it."""
    redacted = redaction_digest(data_settings(cfg)['data_root'])
    return osp.join(cfg.job.cache_dir, 'predictions' if redacted is None else f'predictions-redacted-{redacted}')


def cached_model(entry_file: str) -> Optional[TrainedModel]:
    """The model a cache's ``entry.json`` describes (None when there is no entry yet)."""
    if not osp.isfile(entry_file):
        return None
    entry = read_json(entry_file, 'remove its folder to have the model trained again')
    return TrainedModel(**{k: entry[k] for k in TrainedModel.__dataclass_fields__})


def cached_training(cfg: Config, cache_root: str, name: str, data_files: List[str]) -> TrainedModel:
    """Train ``cfg`` once and cache the final weights; later calls return the cached model.

    The cache key is the sha256 of the configuration text (less its work dir) and of the
    training data files, so a changed config or dataset trains anew.
    """
    logger = MMLogger.get_current_instance()
    entry_dir = training_cache_entry(cfg, cache_root, name, data_files)
    key = entry_dir.rsplit('-', 1)[1]
    cfg = cfg.copy()
    entry_file = osp.join(entry_dir, 'entry.json')
    cached = cached_model(entry_file)
    if cached is not None:
        logger.info(f'{name}: using the cached model {cached.checkpoint}')
        return cached
    run_dir = osp.join(entry_dir, 'run')
    if osp.isdir(run_dir):
        shutil.rmtree(run_dir)  # an interrupted earlier run of the same key: start it over
    cfg.work_dir = run_dir
    logger.info(f'{name}: training once, cached under {entry_dir}')
    start = time.monotonic()
    runner = Runner.from_cfg(cfg)
    runner.train()
    wall = time.monotonic() - start
    release_dataloader_workers(runner)
    checkpoint = osp.join(entry_dir, 'model.pth')
    export_weights(runner.model, checkpoint, dict(name=name, key=key, iters=runner.iter))
    model = TrainedModel(checkpoint=checkpoint, checkpoint_sha256=file_sha256(checkpoint),
                         wall_time_s=wall, samples_seen=runner.iter * cfg.train_dataloader.batch_size)
    write_json_atomic(entry_file, dict(asdict(model), key=key))
    for file_name in os.listdir(run_dir):  # keep the training logs, drop the intermediate checkpoints
        if file_name.endswith('.pth'):
            os.remove(osp.join(run_dir, file_name))
    return model


def warm_prediction_cache(cfg: Config, checkpoints: Sequence[str], sets: TakedownSets,
                          membership: bool = True) -> None:
    """Predictions (every mode) and, with ``membership``, camera membership features of each
    checkpoint on the report's samples, computed with the samples sharded over the ranks and
    written to the job's prediction cache by rank 0, so that the report, built on rank 0
    alone, reads them from the cache. Every rank calls this; in a single process it is one
    pass of each, as the report would make."""
    detector = detector_config(cfg)
    eval_sets = check_sets(sets.eval_sets())
    cache_dir = prediction_cache_dir(cfg)
    for checkpoint in checkpoints:
        predict_checkpoint(detector, checkpoint, union_tokens(eval_sets), cache_dir=cache_dir)
        if membership:
            collect_membership_features(detector, checkpoint,
                                        union_tokens({k: eval_sets[k] for k in MEMBERSHIP_SETS}), cache_dir)


def cached_original(cfg: Config, files: DataFiles) -> Optional[TrainedModel]:
    """The original :func:`original` would return, without training it: the configured
    ``model.original_checkpoint``, or the cached pretraining; None when it would have to be
    pretrained (what a multi-process job refuses to do while its other ranks wait)."""
    if cfg.model.get('original_checkpoint'):
        return original(cfg, files)
    entry_dir = training_cache_entry(pretrain_config(cfg), cfg.job.cache_dir, 'original',
                                     files.training_content())
    return cached_model(osp.join(entry_dir, 'entry.json'))


def training_cache_entry(cfg: Config, cache_root: str, name: str, data_files: List[str]) -> str:
    """The cache folder :func:`cached_training` keeps the training of ``cfg`` in: the key is the
    sha256 of the configuration text (less its work dir) and of the training data files."""
    digest = hashlib.sha256()
    cfg = cfg.copy()
    cfg.work_dir = None
    digest.update(cfg.pretty_text.encode())
    for path in data_files:
        digest.update(file_sha256(path).encode())
    return osp.join(cache_root, f'{name}-{digest.hexdigest()[:16]}')
