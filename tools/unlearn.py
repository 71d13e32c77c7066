"""The main job: unlearn a takedown's camera footage from a camera+radar detector.

    python tools/unlearn.py CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--resume]
        [--reference visual-retrain|full-retrain] [--launcher none|pytorch|slurm|mpi]
    torchrun --nproc_per_node N tools/unlearn.py CONFIG --launcher pytorch ...   (tools/dist_unlearn.sh)

CONFIG is a job config: configs/ccu_bevfusion.py (CCU, the default job) or any method config of
configs/unlearn/. On a fresh checkout the default writes the synthetic nuScenes dataset, pretrains
the detector once (cached), unlearns the default takedown (the training scenes of one location)
through mmengine's Runner, evaluates and reports. The steps are ccu_av.jobs.steps.

With ``--launcher`` (docs/distributed.md) every rank loads the config and unlearns (DDP, each rank
on its own retain and forget shards) and evaluates its share of the samples; rank 0 alone checks
and claims the work dir, writes the takedown selection, ``unlearned.pth`` and the report, and
prints, the other ranks waiting. A multi-process job starts nothing long on one rank: the dataset
and the original model must exist (run the single-process job once first).
"""
import argparse
import json
import os
import os.path as osp
from dataclasses import asdict

from ccu_av.utils.cli import CfgOptions, user_errors
from ccu_av.utils.dist import LAUNCHERS, check_launcher, init_launcher, is_rank_zero, run_on_rank_zero


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Unlearn a takedown from a ccu_av detector')
    parser.add_argument('config', help='job config, e.g. configs/ccu_bevfusion.py')
    parser.add_argument('--work-dir', help='where the job writes (default: the config\'s work_dir)')
    parser.add_argument('--resume', action='store_true',
                        help='resume the unlearning run from the latest checkpoint in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
                        help='override settings of the config, key=value pairs')
    parser.add_argument('--reference', choices=['visual-retrain', 'full-retrain'],
                        help='also train (once, cached) a reference from scratch: the forget '
                             'scenes\' cameras erased and radar kept (visual), or left out (full)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='multi-process unlearning (docs/distributed.md): pytorch under torchrun '
                             '(gloo on a CPU-only torch, nccl on GPUs); slurm and mpi with CUDA only')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch; torchrun sets LOCAL_RANK instead')
    args = parser.parse_args(argv)
    if args.launcher != 'none' and 'LOCAL_RANK' not in os.environ and 'RANK' in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from ccu_av.jobs import (WorkDirConflict, claim_work_dir, complete_work_dir, load_job_config, method_name,
                             steps)

    # everything that can be checked is checked before the work dir is touched: a failed check
    # leaves it as it was, and a corrected rerun in it proceeds. With a launcher every rank loads
    # the config; rank 0 alone checks the rest and every rank gets its verdict (run_on_rank_zero)
    with user_errors('unlearn', WorkDirConflict):
        check_launcher(args.launcher)
        cfg = load_job_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            'work_dirs', osp.splitext(osp.basename(args.config))[0])
        cfg.work_dir = work_dir
        init_launcher(args.launcher, cfg)
        files, sets, original = run_on_rank_zero(validate, args, cfg, work_dir)
    # rank 0 holds the work dir's lock until the job ends; job.json says "running" until the
    # report is written, so that a corrected job may take over what a failed one left
    locks = []
    with user_errors('unlearn', WorkDirConflict):
        run_on_rank_zero(lambda: locks.append(claim_work_dir(work_dir, cfg)))
    try:
        run_on_rank_zero(sets.selection.dump, osp.join(work_dir, 'takedown'))
        unlearned = steps.unlearn(cfg, work_dir, original, resume=args.resume, launcher=args.launcher)
        models = dict(original=('original', original), **{method_name(cfg): ('unlearned', unlearned)})
        if args.reference:
            name = args.reference.replace('-', '_')
            models[name] = (name, steps.reference(cfg, files, sets, args.reference))
        report = steps.report(cfg, models, sets, osp.join(work_dir, 'report'), config_path=args.config)
        run_on_rank_zero(complete_work_dir, work_dir)
    finally:
        for lock in locks:
            lock.release()
    if is_rank_zero():
        print(headline_table(report['json']))
    return dict(sets=sets, report=report,
                models={name: dict(asdict(model), role=role) for name, (role, model) in models.items()})


def validate(args, cfg, work_dir: str):
    """The job's checks before its work dir is claimed, in order: the work dir, the method (its
    objective, frozen modules and hooks built from the config), ``--resume``, the data, the
    takedown's sets, the original model and its fit to the detector.

    With a launcher (run on rank 0 while the other ranks wait) nothing long is started: the
    dataset and its info files must exist and the original model must be configured or cached,
    else the job is refused with what to run first; ``--reference`` is refused (it would train
    a model from scratch on rank 0).

    Returns:
        ``(DataFiles, TakedownSets, TrainedModel of the original)``.
    """
    from ccu_av.jobs import steps
    from ccu_av.jobs.config import data_settings
    from ccu_av.jobs.work_dir import work_dir_state

    state = work_dir_state(work_dir, cfg)
    steps.check_method(cfg)
    if args.resume and state == 'partial':
        raise ValueError(f'--resume: {work_dir} holds the partial run of another job (another config or '
                         'takedown), which this job cannot resume; drop --resume to start this job there '
                         '(the partial outputs are moved aside), or pass that job\'s config')
    if args.resume and not osp.isfile(osp.join(work_dir, 'unlearn', 'last_checkpoint')):
        raise FileNotFoundError(f'--resume: {work_dir}/unlearn holds no checkpoint to resume from')
    single = f'run the single-process job once first (python tools/unlearn.py {args.config})'
    if args.launcher != 'none':
        if args.reference:
            raise ValueError(f'--reference is refused with --launcher {args.launcher}: a reference is '
                             f'trained from scratch, which a multi-process job does not do; {single} '
                             'with --reference for the comparison')
        settings = data_settings(cfg)
        absent = [path for path in (osp.join(settings['data_root'], settings['version']),
                                    settings['train_info'], settings['val_info']) if not osp.exists(path)]
        if absent:
            raise FileNotFoundError(
                f'--launcher {args.launcher}: the dataset is not ready ({absent[0]} does not exist) and '
                f'a multi-process job does not write it; {single}, or write it with '
                'tools/make_synthetic_nuscenes.py and tools/create_data.py')
    files = steps.data(cfg)
    sets = steps.select(cfg, files)
    if args.launcher == 'none':
        original = steps.original(cfg, files)
    else:
        original = steps.cached_original(cfg, files)
        if original is None:
            raise FileNotFoundError(
                f'--launcher {args.launcher}: the original model is neither configured '
                '(model.original_checkpoint) nor cached under job.cache_dir, and a multi-process job '
                f'does not pretrain it (the other ranks would wait for it); {single}, which pretrains '
                'and caches it, or train it with tools/train.py and set model.original_checkpoint')
    steps.check_original(cfg, original)
    return files, sets, original


def headline_table(report_json: str) -> str:
    """The figures a takedown reviewer reads first, from report.json."""
    with open(report_json) as f:
        report = json.load(f)
    rows = [('model', 'cam mAP forget', 'radar mAP forget', 'fusion mAP forget', 'fusion mAP retain',
             'fusion mAP val-other', 'MIA AUC forget/val', 'wall s')]
    for name, model in report['models'].items():
        fig = model['figures']
        mia = report.get('membership_inference', {}).get(name, {}).get('forget_vs_val_auc')
        rows.append((name, fig['camera']['forget']['mAP'], fig['radar']['forget']['mAP'],
                     fig['fusion']['forget']['mAP'], fig['fusion']['retain']['mAP'],
                     fig['fusion'].get('val_other', fig['fusion']['val'])['mAP'], mia,
                     '-' if model.get('wall_time_s') is None else f"{model['wall_time_s']:.0f}"))
    cells = [[c if isinstance(c, str) else ('-' if c is None else f'{c:.3f}') for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(rows[0]))]
    lines = ['  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines) + f'\n\nreport: {osp.dirname(report_json)}/report.md'


if __name__ == '__main__':
    main()
