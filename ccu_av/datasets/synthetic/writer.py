"""Write a synthetic nuScenes-format dataroot that the unmodified nuscenes-devkit loads.

Layout (as nuScenes): ``<version>/*.json`` (13 tables and ``splits.json``), ``maps/*.png``,
``samples/<CHANNEL>/*`` (key frames) and ``sweeps/RADAR_*/*`` (radar sweeps between key frames),
plus ``synthetic_meta.json`` (the config and seed it was written with).
With private sites, ``splits.json`` also lists each site's scenes as ``synthetic_site_<site>``.
The output is written into a temporary sibling directory and renamed into place when complete.
"""
import json
import os
import shutil
import tempfile
import time
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Dict, Iterator, List, Tuple, Union

import numpy as np
from mmengine.logging import MMLogger

from .config import SyntheticNuScenesConfig
from .rig import build_rig
from .scene_writer import SceneJob, write_scene
from .sites import site_names
from .tables import MAP_SIZE_M, Tokens, calibrated_sensor_records, draw_map_mask, static_tables, write_tables

TRAIN_SPLIT = 'synthetic_train'
VAL_SPLIT = 'synthetic_val'
META_FILE = 'synthetic_meta.json'
# where a scene's road may start on its location's map: far enough from the edges for the devkit's
# ego-centric map rendering (it crops 40 * sqrt(2) m around the ego)
_ROAD_MARGIN_M = 120.0
# log vehicles as in nuScenes (Singapore and Boston fleets)
_VEHICLE = {'boston-seaport': 'n008'}


def split_name(split: str, location: str = '') -> str:
    """Name of a split in ``splits.json``: ``synthetic_train``, or ``synthetic_val_<location>`` for one location.

    The devkit only looks custom splits up for names it does not know, so these avoid 'train' and 'val'.
    """
    base = {'train': TRAIN_SPLIT, 'val': VAL_SPLIT}[split]
    return f'{base}_{location}' if location else base


def site_split_name(site: str) -> str:
    """Name of the split in ``splits.json`` that lists the scenes of private site ``site``."""
    return f'synthetic_site_{site}'


def write_synthetic_nuscenes(out_dir: Union[str, Path], config: SyntheticNuScenesConfig = SyntheticNuScenesConfig(),
                             seed: int = 0, workers: int = 1) -> dict:
    """Write the synthetic dataset to ``out_dir`` (which must not exist or be empty).

    Args:
        out_dir: the dataroot to create.
        config: sizes and knobs.
        seed: the dataset's seed; the same seed and config give byte-identical files.
        workers: processes writing scenes in parallel (the output does not depend on it).

    Returns:
        summary: dataroot, version, seed, splits (name -> scene names), sites (private site ->
        its scene names, empty without sites), takedown_location, takedown_scenes (its training
        scenes), counts of scenes, samples, sample_data and annotations, and seconds taken.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f'{out} exists and is not an empty directory; refusing to write the synthetic '
                              'nuScenes dataset into it (choose a new path or remove it)')
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    start = time.time()
    try:
        summary = _write(tmp, config, seed, workers)
        tmp.chmod(0o755)
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary.update(dataroot=str(out), seconds=round(time.time() - start, 2))
    MMLogger.get_current_instance().info(
        f'synthetic nuScenes: {summary["num_scenes"]} scenes, {summary["num_samples"]} samples, '
        f'{summary["num_annotations"]} annotations written to {out} in {summary["seconds"]} s')
    return summary


def _write(root: Path, cfg: SyntheticNuScenesConfig, seed: int, workers: int) -> dict:
    """Write everything into ``root``; returns the summary without dataroot and time."""
    table_dir = root / cfg.version
    channels = list(build_rig(16, 16))
    for folder in [table_dir, root / 'maps'] + [root / 'samples' / c for c in channels] + \
            [root / 'sweeps' / c for c in channels if c.startswith('RADAR')]:
        folder.mkdir(parents=True)
    tokens = Tokens(np.random.SeedSequence([seed, 0]))
    tables, jobs = _plan(root, cfg, seed, tokens)
    results = _run(jobs, workers)

    # 1. scene-level records, in scene order
    roads: Dict[str, List[np.ndarray]] = {}
    for job, result in zip(jobs, results):
        tables['scene'].append(result['scene'])
        for name, records in result['tables'].items():
            tables.setdefault(name, []).extend(records)
        roads.setdefault(job.location, []).append(result['road'])
    # 2. one map per location, covering the roads of its scenes
    for location in cfg.locations:
        token = tokens()
        filename = f'maps/{token}.png'
        draw_map_mask(str(root / filename), roads[location])
        log_tokens = [log['token'] for log in tables['log'] if log['location'] == location]
        tables['map'].append(dict(category='semantic_prior', token=token, filename=filename, log_tokens=log_tokens))
    write_tables(str(table_dir), tables)
    # 3. splits and provenance
    splits = _splits(jobs)
    with open(table_dir / 'splits.json', 'w') as f:
        json.dump(splits, f, indent=1)
    with open(root / META_FILE, 'w') as f:
        json.dump(dict(config=cfg.record(), seed=seed, train_split=TRAIN_SPLIT, val_split=VAL_SPLIT), f, indent=1)
    sites = {job.site: splits[site_split_name(job.site)] for job in jobs if job.site}
    return dict(version=cfg.version, seed=seed, splits=splits, sites=sites, locations=list(cfg.locations),
                takedown_location=cfg.takedown_location,
                takedown_scenes=splits[split_name('train', cfg.takedown_location)],
                num_scenes=len(jobs), num_samples=len(tables['sample']),
                num_sample_data=len(tables['sample_data']), num_annotations=len(tables['sample_annotation']))


def _plan(root: Path, cfg: SyntheticNuScenesConfig, seed: int, tokens: Tokens) -> Tuple[Dict[str, list],
                                                                                          List[SceneJob]]:
    """The dataset-level tables (static ones, logs, calibrations) and one job per scene.

    Each location has a training and a validation log, each log its own calibrated sensors.
    Private sites go to training scenes drawn from a generator of their own, so the other draws
    stay those of a dataset without sites.
    """
    rig = build_rig(cfg.image_width, cfg.image_height)
    tables = static_tables(tokens, rig)
    tables.update(log=[], calibrated_sensor=[], map=[], scene=[])
    sensor_tokens = {r['channel']: r['token'] for r in tables['sensor']}
    category_tokens = {r['name']: r['token'] for r in tables['category']}
    attribute_tokens = {r['name']: r['token'] for r in tables['attribute']}
    jobs = []
    for li, location in enumerate(cfg.locations):
        layout_rng = np.random.default_rng([seed, 1, li])
        sites = _site_scenes(cfg, seed, li, location)
        for si, (split, count) in enumerate((('train', cfg.train_scenes_per_location),
                                             ('val', cfg.val_scenes_per_location))):
            log = _log_record(tokens, location, li, si)
            tables['log'].append(log)
            records, calibrated = calibrated_sensor_records(tokens, rig, sensor_tokens)
            tables['calibrated_sensor'] += records
            log_start = 1_532_402_900_000_000 + (2 * li + si) * 86_400_000_000
            for j in range(count):
                jobs.append(SceneJob(
                    root=str(root), config=cfg, seed_entropy=(seed, 2, li, si, j), name=f'scene-{len(jobs) + 1:04d}',
                    location=location, log_token=log['token'], logfile=log['logfile'], split=split,
                    start_us=log_start + j * 60_000_000,
                    origin=tuple(layout_rng.uniform(_ROAD_MARGIN_M, MAP_SIZE_M - _ROAD_MARGIN_M, 2)),
                    road_yaw=float(layout_rng.uniform(-np.pi, np.pi)), calibrated=calibrated,
                    category_tokens=category_tokens, attribute_tokens=attribute_tokens,
                    site=sites.get(j, '') if split == 'train' else ''))
    return tables, jobs


def _site_scenes(cfg: SyntheticNuScenesConfig, seed: int, li: int, location: str) -> Dict[int, str]:
    """Which training scenes of location ``li`` show which private site: scene index -> site name."""
    if not cfg.private_sites:
        return {}
    rng = np.random.default_rng([seed, 3, li])
    chosen = rng.choice(cfg.train_scenes_per_location, cfg.private_sites * cfg.site_scenes, replace=False)
    names = site_names(location, cfg.private_sites)
    return {int(j): names[i // cfg.site_scenes] for i, j in enumerate(chosen)}


def _run(jobs: List[SceneJob], workers: int) -> List[dict]:
    """Write the scenes, in order, in this process or a pool; logs progress."""
    if workers == 1:
        return _collect(map(write_scene, jobs), len(jobs))
    # fork where the platform has it: spawned workers would re-import ccu_av and with it mmdet3d;
    # leaving the block terminates the workers, also when writing fails or is interrupted
    with get_context('fork' if 'fork' in get_all_start_methods() else 'spawn').Pool(workers) as pool:
        return _collect(pool.imap(write_scene, jobs), len(jobs))


def _collect(results: Iterator[dict], total: int) -> List[dict]:
    logger = MMLogger.get_current_instance()
    collected = []
    for result in results:
        collected.append(result)
        if len(collected) % 10 == 0 or len(collected) == total:
            logger.info(f'synthetic nuScenes: {len(collected)}/{total} scenes written')
    return collected


def _log_record(tokens: Tokens, location: str, li: int, si: int) -> dict:
    vehicle = _VEHICLE.get(location, 'n015')
    date = f'2018-07-{10 + 2 * li + si:02d}'
    return dict(token=tokens(), logfile=f'{vehicle}-{date}-11-{li:02d}-{si:02d}+0800', vehicle=vehicle,
                date_captured=date, location=location)


def _splits(jobs: List[SceneJob]) -> Dict[str, List[str]]:
    """Training and validation scene names, overall and per location, then each private site's scenes."""
    splits: Dict[str, List[str]] = {}
    for job in jobs:
        splits.setdefault(split_name(job.split), []).append(job.name)
        splits.setdefault(split_name(job.split, job.location), []).append(job.name)
    for job in jobs:
        if job.site:
            splits.setdefault(site_split_name(job.site), []).append(job.name)
    return splits
