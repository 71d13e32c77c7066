"""The steps of the main job that come before unlearning: data, takedown sets, cached training.

Each step is idempotent and caches its output, so a second run of ``tools/unlearn.py`` reuses
what the first one made: the synthetic dataset and its info files under the data root, and
trained models (the original detector, the visual retrain) under the cache folder, keyed by the
hash of their training configuration and training data.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional

import mmengine
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..datasets import TakedownRequest, create_nuscenes_infos, select_from_info_file
from ..datasets.synthetic import (SyntheticNuScenesConfig, TRAIN_SPLIT, VAL_SPLIT,
                                  write_synthetic_nuscenes)
from ..evaluation.prediction_cache import file_sha256, write_json_atomic
from ..utils import load_checkpoint_file


def ensure_dataset(data_root: str, version: str, synthetic: Optional[dict]) -> Dict[str, str]:
    """Make sure ``data_root/version`` and its info files exist; returns the info file paths.

    Args:
        data_root: the nuScenes dataroot.
        version: its table folder, e.g. ``v1.0-trainval`` or ``v1.0-synthetic``.
        synthetic: keyword arguments of :class:`SyntheticNuScenesConfig` (plus ``seed``) when the
            data root may be written as the synthetic dataset if absent; ``None`` for real data,
            which must already be there.
    """
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
    infos = {split: osp.join(data_root, f'nuscenes_infos_{split}.pkl') for split in ('train', 'val')}
    if not all(osp.isfile(path) for path in infos.values()):
        logger.info(f'writing the info files of {data_root}')
        splits = dict(train_split=TRAIN_SPLIT, val_split=VAL_SPLIT) if synthetic is not None else {}
        written = create_nuscenes_infos(data_root, version, data_root, **splits)
        infos = {split: written[split] for split in ('train', 'val')}
    return infos


def takedown_sets(train_info: str, val_info: str, takedown: dict, out_dir: str,
                  retain_eval_scenes_per_location: Optional[int],
                  forget_eval_scenes: Optional[int] = None) -> Dict[str, List[str]]:
    """Forget / retain sets of the takedown, and the evaluation sets of the report.

    Returns sample tokens of ``forget`` (flagged training samples), ``forget_eval`` (the samples
    of the first ``forget_eval_scenes`` flagged scenes, or all flagged samples when None: the
    report's forget set), ``retain`` (the other training samples, what CCU trains on),
    ``retain_eval`` (the first ``retain_eval_scenes_per_location`` retain scenes of each
    location, or all retain samples when None: the report's retain set; fixed samples keep
    evaluation fast on a large takedown), ``val`` (the validation split) and ``val_other``
    (validation samples of the locations the takedown does not touch).
    The forget and retain token lists are written to ``out_dir`` for the datasets to read.
    """
    if forget_eval_scenes is not None and int(forget_eval_scenes) < 1:
        raise ValueError(f'forget_eval_scenes must be None (all flagged scenes) or >= 1, '
                         f'got {forget_eval_scenes}')
    selection = select_from_info_file(train_info, TakedownRequest(**takedown))
    selection.dump(out_dir)
    train = _records(train_info)
    val = _records(val_info)
    forget = set(selection.forget_tokens)
    retain_eval, scenes_seen = [], {}
    for record in train:
        if record['token'] in forget:
            continue
        scenes = scenes_seen.setdefault(record['location'], [])
        if record['scene_name'] not in scenes:
            if (retain_eval_scenes_per_location is not None
                    and len(scenes) >= retain_eval_scenes_per_location):
                continue
            scenes.append(record['scene_name'])
        retain_eval.append(record['token'])
    flagged_locations = {r['location'] for r in train if r['token'] in forget}
    eval_scenes = set(selection.forget_scenes[:forget_eval_scenes])  # [:None]: all of them
    forget_eval = [r['token'] for r in train
                   if r['token'] in forget and r['scene_name'] in eval_scenes]
    return dict(forget=list(selection.forget_tokens), forget_eval=forget_eval,
                retain=list(selection.retain_tokens), retain_eval=retain_eval, val=[r['token'] for r in val],
                val_other=[r['token'] for r in val if r['location'] not in flagged_locations])


def _records(info_file: str) -> List[dict]:
    return [dict(token=i['token'], scene_name=i['scene_name'], location=i['location'])
            for i in mmengine.load(info_file)['data_list']]


def cached_training(cfg: Config, cache_root: str, name: str, data_files: List[str]) -> dict:
    """Train ``cfg`` once and cache the final weights; later calls return the cached entry.

    The cache key is the sha256 of the configuration text (less its work dir) and of the
    training data files, so a changed config or dataset trains anew.

    Returns:
        ``dict(checkpoint=path, wall_time_s=..., samples_seen=..., key=...)``.
    """
    logger = MMLogger.get_current_instance()
    digest = hashlib.sha256()
    cfg = cfg.copy()
    cfg.work_dir = None
    digest.update(cfg.pretty_text.encode())
    for path in data_files:
        digest.update(file_sha256(path).encode())
    key = digest.hexdigest()[:16]
    entry_dir = osp.join(cache_root, f'{name}-{key}')
    entry_file = osp.join(entry_dir, 'entry.json')
    if osp.isfile(entry_file):
        with open(entry_file) as f:
            entry = json.load(f)
        logger.info(f'{name}: using the cached model {entry["checkpoint"]}')
        return entry
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
    samples = runner.iter * cfg.train_dataloader.batch_size
    checkpoint = osp.join(entry_dir, 'model.pth')
    _export_weights(runner.model, checkpoint, dict(name=name, key=key, iters=runner.iter))
    entry = dict(checkpoint=checkpoint, wall_time_s=wall, samples_seen=samples, key=key,
                 checkpoint_sha256=file_sha256(checkpoint))
    write_json_atomic(entry_file, entry)
    for name in os.listdir(run_dir):  # keep the training logs, drop the intermediate checkpoints
        if name.endswith('.pth'):
            os.remove(osp.join(run_dir, name))
    return entry


def release_dataloader_workers(runner: Runner) -> None:
    """Stop the worker processes of a finished runner's dataloaders now.

    With ``persistent_workers`` they live until the garbage collector deletes the loader, and
    torch's shutdown then waits on each worker (measured: 20 s for a trained runner's four): that
    wait would land in whatever step of the job happens to trigger the collection (it landed in
    the CCU step's timing). torch offers no public call for this, so the iterator's own shutdown
    (``_shutdown_workers``, what its ``__del__`` calls) is used.
    """
    for loop_name in ('train_loop', 'val_loop', 'test_loop'):
        loop = getattr(runner, f'_{loop_name}', None)
        loader = getattr(loop, 'dataloader', None)
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None and hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
            loader._iterator = None


def _export_weights(model: torch.nn.Module, path: str, meta: dict) -> None:
    """Write the model's weights (plain tensors and a plain meta) atomically to ``path``."""
    state = {k: v.detach().cpu() for k, v in getattr(model, 'module', model).state_dict().items()}
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        torch.save(dict(state_dict=state, meta=meta), tmp)
        load_checkpoint_file(tmp)  # what we publish must load back safely
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
