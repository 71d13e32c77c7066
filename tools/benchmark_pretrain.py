"""Pretraining benchmark: train the fusion detector, then time it and score it per modality.

    python tools/benchmark_pretrain.py [CONFIG] [--work-dir DIR] [--cfg-options k=v ...]
        [--profile-iters 10] [--checkpoint CKPT (skip training, evaluate this)]

Reports training wall time and samples seen (a time budget silently loses compute when other
work shares the cores, so samples seen is the figure to compare), training throughput, peak
resident memory, where a training step's time goes (data, each model stage, backward, optimiser
step) and the nuScenes figures on the test split (the config's ``test_dataloader``) in fusion,
camera-only and radar-only mode, computed by ``ccu_av.evaluation.modal_eval.evaluate_modes`` as
``tools/test.py`` and the unlearning report do. That evaluation runs every modality in one pass
over the samples, so its time is one wall time for all three, not one per modality. The trained
weights are exported to ``WORK_DIR/benchmark_model.pth`` and evaluated from there (with
``--checkpoint``, that file is evaluated). Everything goes to ``WORK_DIR/benchmark.json``; a
summary is printed.
"""
import argparse
import os.path as osp
import resource
import time
from collections import defaultdict
from typing import Dict

import mmengine
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ccu_av.evaluation.modal_eval import evaluate_modes, split_tokens
from ccu_av.models.interface import MODALITIES
from ccu_av.models.weights import load_detector_weights
from ccu_av.utils import export_weights

STAGES = dict(image_backbone=('img_backbone', 'img_neck'), lift_splat=('view_transform',),
              radar_encoder=('radar_encoder',), fusion_bev=('fuser', 'bev_backbone', 'bev_neck'),
              head_forward=('bbox_head',), image_aux_head=('img_aux_head',))

EVAL_SET = 'test'  # the one evaluated set: the test dataloader's samples

# the consecutive parts of a training step (they add up to its time)
STEP_PARTS = ('data_loading', 'preprocess', 'forward_and_losses', 'backward', 'optimizer_step')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark pretraining of the fusion detector')
    parser.add_argument('config', nargs='?', default='configs/pretrain_camradar_bevfusion.py')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_pretrain')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--profile-iters', type=int, default=10,
                        help='training steps profiled stage by stage after the evaluation (they '
                             'update the weights, so they come last; 0: none)')
    parser.add_argument('--checkpoint', help='evaluate this checkpoint instead of training')
    parser.add_argument(
        '--time-budget', type=float, default=None,
        help='seconds of training: the iterations (and the schedule) are sized from a short '
             'measured calibration instead of the config\'s max_iters')
    parser.add_argument('--wall-limit', type=float, default=None,
                        help='stop training after this many seconds whatever the schedule says')
    return parser.parse_args(argv)


def peak_rss_mb() -> Dict[str, float]:
    """Peak resident memory of this process and of its largest finished child (workers)."""
    return dict(main=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                largest_child=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def profile_train_steps(runner: Runner, iters: int, skip_first: bool = False) -> Dict[str, float]:
    """Mean seconds per training step, split into data, model stages, backward and step
    (without the first step, whose one-off set-up costs would dominate, if ``skip_first``)."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    if isinstance(runner.optim_wrapper, dict):  # not built yet (no training in this runner)
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    optim = runner.optim_wrapper
    totals, starts, handles = defaultdict(float), {}, []
    for stage, names in STAGES.items():
        for name in names:
            module = getattr(model, name, None)
            if module is None:
                continue
            handles.append(module.register_forward_pre_hook(
                lambda m, a, key=name: starts.__setitem__(key, time.perf_counter())))
            handles.append(module.register_forward_hook(
                lambda m, a, o, key=name, stage=stage: totals.__setitem__(
                    stage, totals[stage] + time.perf_counter() - starts[key])))
    model.train()
    loader = iter(runner.train_dataloader)
    try:
        for i in range(iters):
            if skip_first and i == 1:
                totals.clear()
            t0 = time.perf_counter()
            data = next(loader)
            t1 = time.perf_counter()
            data = model.data_preprocessor(data, training=True)
            t2 = time.perf_counter()
            losses = model.loss(data['inputs'], data['data_samples'])
            loss, _ = model.parse_losses(losses)
            t3 = time.perf_counter()
            optim.backward(loss)
            t4 = time.perf_counter()
            optim.step()
            optim.zero_grad()
            t5 = time.perf_counter()
            for key, dt in zip(STEP_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                totals[key] += dt
    finally:
        for h in handles:
            h.remove()
    stages = {k: v / (iters - int(skip_first)) for k, v in totals.items()}
    module_time = sum(stages.get(s, 0.0) for s in STAGES)
    stages['losses_and_targets'] = stages['forward_and_losses'] - module_time
    return stages


def fit_schedule_to_budget(cfg: Config, budget: float, calib_iters: int = 6) -> dict:
    """Set ``max_iters`` (and the schedule's ends) so training fills ``budget`` seconds.

    The seconds a step takes are measured on a throwaway runner (same model, data and
    optimiser); the warm-up, cosine decay and checkpoints are rescaled to the new length.
    """
    probe_cfg = cfg.copy()
    probe_cfg.work_dir = osp.join(cfg.work_dir, 'calibration')
    probe = Runner.from_cfg(probe_cfg)
    stages = profile_train_steps(probe, calib_iters + 1, skip_first=True)
    seconds = sum(stages[k] for k in STEP_PARTS)
    del probe
    max_iters = max(10, int(budget / seconds))
    old = cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = max_iters
    for sched in cfg.param_scheduler:
        for key in ('begin', 'end', 'T_max'):
            if key in sched:
                sched[key] = int(round(sched[key] * max_iters / old))
    cfg.default_hooks.checkpoint.interval = max_iters
    return dict(calibration_iter_seconds=seconds, max_iters=max_iters)


class WallClockStop(Hook):
    """Stop training once ``limit`` seconds have passed (a guard: if other work takes the
    cores after calibration, the run ends late but not hours late; samples seen says so)."""

    def __init__(self, limit: float):
        self.limit, self.start = limit, time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if time.perf_counter() - self.start > self.limit:
            runner.train_loop.stop_training = True


def evaluate(cfg: Config, checkpoint: str) -> dict:
    """The checkpoint's nuScenes figures on the test split in every modality, and how long
    the evaluation took (all modalities together: they share one pass over the samples).

    Returns:
        ``dict(metrics={mode: flat figures (mAP, NDS, mATE..., AP_<class>)}, eval_samples=N,
        eval_wall_seconds=seconds)``; the seconds include building the model and the loaders
        and the devkit's scoring.
    """
    t0 = time.perf_counter()
    tokens = split_tokens(cfg)
    figures = evaluate_modes(cfg, checkpoint, {EVAL_SET: tokens}, MODALITIES)
    return dict(metrics={mode: by_set[EVAL_SET] for mode, by_set in figures.items()},
                eval_samples=len(tokens), eval_wall_seconds=time.perf_counter() - t0)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir
    # evaluated per modality below instead of validating at the end of training
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    report = dict(config=args.config, torch_threads=torch.get_num_threads())
    if args.time_budget and not args.checkpoint:
        report.update(fit_schedule_to_budget(cfg, args.time_budget))
    runner = Runner.from_cfg(cfg)
    checkpoint = args.checkpoint
    if checkpoint:  # loaded into the runner too: the step profile starts from these weights
        load_detector_weights(runner.model, checkpoint)
    else:
        limit = args.wall_limit or (1.5 * args.time_budget if args.time_budget else None)
        if limit:
            runner.register_hook(WallClockStop(limit), priority='LOWEST')
        t0 = time.perf_counter()
        runner.train()
        wall = time.perf_counter() - t0
        samples = runner.iter * cfg.train_dataloader.batch_size * runner.world_size
        report.update(train_wall_seconds=wall, iterations=runner.iter, samples_seen=samples,
                      train_samples_per_second=samples / wall,
                      mean_iter_seconds=runner.message_hub.get_scalar('train/time').mean(),
                      mean_data_seconds=runner.message_hub.get_scalar('train/data_time').mean())
        checkpoint = osp.join(cfg.work_dir, 'benchmark_model.pth')
        export_weights(runner.model, checkpoint, dict(config=args.config, iters=runner.iter))
    # scored from the file, so the step profile's updates to the runner's weights come after
    report.update(checkpoint=checkpoint, **evaluate(cfg, checkpoint))
    if args.profile_iters > 0:  # 0: no step profile
        # the first step waits for the loader's workers to start: left out when there are others
        report['step_profile_seconds'] = profile_train_steps(runner, args.profile_iters,
                                                             skip_first=args.profile_iters > 1)
    report['peak_rss_mb'] = peak_rss_mb()
    out = osp.join(cfg.work_dir, 'benchmark.json')
    mmengine.dump(report, out, indent=2)
    print_summary(report, out)


def print_summary(report: dict, out: str) -> None:
    if 'samples_seen' in report:
        print(f"trained {report['iterations']} iterations, {report['samples_seen']} samples in "
              f"{report['train_wall_seconds']:.0f} s ({report['train_samples_per_second']:.2f} samples/s)")
    if 'step_profile_seconds' in report:
        print('step profile (s): ' + ', '.join(f'{k} {v:.3f}' for k, v in report['step_profile_seconds'].items()))
    for modality, metrics in report['metrics'].items():
        print(f'{modality:8s} mAP {metrics["mAP"]:.4f}, NDS {metrics["NDS"]:.4f}')
    print(f"evaluated {report['eval_samples']} test samples in all modalities in "
          f"{report['eval_wall_seconds']:.0f} s (one pass for all three)")
    print(f"peak RSS: {report['peak_rss_mb']['main']:.0f} MB (largest worker "
          f"{report['peak_rss_mb']['largest_child']:.0f} MB); written to {out}")


if __name__ == '__main__':
    main()
