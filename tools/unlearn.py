"""The main job: unlearn a takedown's camera footage from a camera+radar detector.

    python tools/unlearn.py CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--resume]
        [--reference visual-retrain|full-retrain]

CONFIG is a job config: configs/ccu_bevfusion.py (CCU, the default job) or any method config of
configs/unlearn/. On a fresh checkout the default writes the synthetic nuScenes dataset, pretrains
the detector once (cached), unlearns the default takedown (the training scenes of one location)
through mmengine's Runner, evaluates and reports. The steps are ccu_av.jobs.steps.
"""
import argparse
import json
import os.path as osp
from dataclasses import asdict

from ccu_av.utils.cli import CfgOptions, user_errors


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
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='only none: multi-process unlearning is not tested yet, and would '
                             'need distinct forget shards and rank-0-only outputs')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from ccu_av.jobs import WorkDirConflict, check_work_dir, claim_work_dir, load_job_config, method_name, steps

    # everything that can be checked is checked before the work dir is touched: a failed check
    # leaves it as it was, and a corrected rerun in it proceeds
    with user_errors('unlearn', WorkDirConflict):
        if args.launcher != 'none':
            raise ValueError(f'--launcher {args.launcher} is refused: multi-process unlearning is not '
                             'tested yet; run with --launcher none')
        cfg = load_job_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            'work_dirs', osp.splitext(osp.basename(args.config))[0])
        cfg.work_dir = work_dir
        check_work_dir(work_dir, cfg)
        if args.resume and not osp.isfile(osp.join(work_dir, 'unlearn', 'last_checkpoint')):
            raise FileNotFoundError(f'--resume: {work_dir}/unlearn holds no checkpoint to resume from')
        files = steps.data(cfg)
        sets = steps.select(cfg, files)
        original = steps.original(cfg, files)
        steps.check_original(cfg, original)
    claim_work_dir(work_dir, cfg)
    sets.selection.dump(osp.join(work_dir, 'takedown'))
    unlearned = steps.unlearn(cfg, work_dir, original, resume=args.resume)
    models = dict(original=('original', original), **{method_name(cfg): ('unlearned', unlearned)})
    if args.reference:
        name = args.reference.replace('-', '_')
        models[name] = (name, steps.reference(cfg, files, sets, args.reference))
    report = steps.report(cfg, models, sets, osp.join(work_dir, 'report'), config_path=args.config)
    print(headline_table(report['json']))
    return dict(sets=sets, report=report,
                models={name: dict(asdict(model), role=role) for name, (role, model) in models.items()})


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
