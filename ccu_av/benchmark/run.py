"""One method on one takedown of the suite, through the job steps, every result cached.

For a takedown the run is: the data and the takedown's sets (``jobs.steps.data``/``select``), the
original (cached), the visual retrain of every reference seed (cached), the method's unlearning
(cached under a key of the method's config, the original, the forget set and the package's code),
the relearning check of the unlearned model and of the first retrain, and the report of all of
them (predictions cached by checkpoint). A rerun with nothing changed only reads caches.
"""
import hashlib
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from ..jobs import load_job_config, method_name, steps
from ..jobs.config import detector_config, pretrain_config
from ..utils import code_version, write_json_atomic
from .relearn import relearn_curve
from .suite import SuiteTakedown

def takedown_config(method_config: str, takedown: SuiteTakedown,
                    cfg_options: Optional[dict] = None) -> Config:
    """The method's job config with the takedown's request and ``cfg_options`` merged in."""
    cfg = load_job_config(method_config, cfg_options)
    cfg.train_dataloader.dataset.takedown = takedown.request
    return cfg


def cached_unlearn(cfg: Config, out_dir: str, original: steps.TrainedModel,
                   sets: steps.TakedownSets) -> steps.TrainedModel:
    """``steps.unlearn`` once per (config, original, forget set, code); later calls read the
    cached ``entry.json``. A run interrupted before it wrote the entry is started over."""
    digest = hashlib.sha256()
    keyed = cfg.copy()
    keyed.work_dir = None
    for part in (keyed.pretty_text, original.checkpoint_sha256, '\n'.join(sorted(sets.forget)), code_version()):
        digest.update(part.encode())
    key = digest.hexdigest()[:16]
    run_dir = osp.join(out_dir, f'{method_name(cfg)}-{key}')
    entry_file = osp.join(run_dir, 'entry.json')
    cached = steps.cached_model(entry_file)
    if cached is not None:
        return cached
    if osp.isdir(run_dir):
        shutil.rmtree(run_dir)
    model = steps.unlearn(cfg, run_dir, original)
    for name in os.listdir(osp.join(run_dir, 'unlearn')):  # the exported weights are what is kept
        if name.endswith('.pth') or name == 'last_checkpoint':
            os.remove(osp.join(run_dir, 'unlearn', name))
    write_json_atomic(entry_file, dict(asdict(model), key=key))
    return model


def train_references(cfg: Config, takedown: SuiteTakedown, seeds: Sequence[int], out_dir: str,
                     say: Callable[[str], None]):
    """The takedown's sets, the original and the visual retrain of every seed (each trained once,
    then read from the job's cache): ``(sets, {name: (role, TrainedModel)})``."""
    files = steps.data(cfg)
    sets = steps.select(cfg, files, osp.join(out_dir, 'selection'))
    say(f'{len(sets.forget)} forget / {len(sets.retain)} retain samples; original')
    models = {'original': ('original', steps.original(cfg, files))}
    for seed in seeds:
        say(f'visual retrain, seed {seed} (about 15 min once, then cached)')
        models[f'visual_retrain_seed{seed}'] = ('visual_retrain', steps.reference(cfg, files, sets, 'visual-retrain', seed))
    return sets, models


def run_takedown(method_config: str, takedown: SuiteTakedown, seeds: Sequence[int], out_root: str,
                 relearn_iters: Sequence[int] = (0, 10, 30), cfg_options: Optional[dict] = None,
                 progress: Callable[[str], None] = print) -> dict:
    """Run the method of ``method_config`` on ``takedown`` and return the takedown's record:
    ``report`` (the path of report.json), ``relearn`` (model name -> {iterations: camera-only
    forget mAP}), the set sizes and the models' checkpoints and wall times.

    Args:
        seeds: the visual retrain's training seeds.
        out_root: the benchmark's folder; the takedown's results go to ``out_root/<name>/``.
        relearn_iters: iterations of the relearning check (empty: no check).
        progress: called with one line per step.
    """
    cfg = takedown_config(method_config, takedown, cfg_options)
    method = method_name(cfg)
    out_dir = osp.join(out_root, takedown.name)
    say = (lambda step: progress(f'[{takedown.name}] {step}'))
    sets, models = train_references(cfg, takedown, seeds, out_dir, say)
    say(f'{method}: unlearning')
    start = time.monotonic()
    models[method] = ('unlearned', cached_unlearn(cfg, out_dir, models['original'][1], sets))
    say(f'{method}: done ({models[method][1].wall_time_s:.0f} s of training; '
        f'{time.monotonic() - start:.0f} s now)')
    relearn = {}
    if relearn_iters:
        lr = float(cfg.optim_wrapper.optimizer.lr)
        forget_eval = sets.eval_sets()['forget']
        for name in (method, f'visual_retrain_seed{seeds[0]}'):
            say(f'relearning check of {name}')
            model = models[name][1]
            relearn[name] = relearn_curve(
                pretrain_config(cfg), detector_config(cfg), model.checkpoint, sorted(sets.forget), forget_eval,
                relearn_iters, lr, osp.join(out_dir, 'relearn', model.checkpoint_sha256[:16]),
                cache_dir=osp.join(cfg.job.cache_dir, 'predictions'))
    say('evaluating every model on the report sets (predictions cached)')
    report = steps.report(cfg, models, sets, osp.join(out_dir, f'report-{method}'), config_path=method_config)
    record = dict(takedown=asdict(takedown), method=method, method_config=method_config, report=report['json'],
                  relearn={name: {str(k): v for k, v in curve.items()} for name, curve in relearn.items()},
                  num_forget=len(sets.forget), num_retain=len(sets.retain),
                  models={name: dict(asdict(model), role=role) for name, (role, model) in models.items()})
    write_json_atomic(osp.join(out_dir, f'record-{method}.json'), record)
    return record
