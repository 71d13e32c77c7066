"""The main job: unlearn a takedown's camera footage from a camera+radar detector with CCU.

    python tools/unlearn.py configs/ccu_bevfusion.py [--work-dir DIR] [--cfg-options k=v ...]
        [--resume] [--launcher none|pytorch|slurm|mpi]

With the default config on a fresh checkout it writes the synthetic nuScenes dataset, pretrains
the detector once (cached), and runs CCU on the default takedown (the training scenes of one
location) through mmengine's Runner with the CCUHook. See ccu_av/apis/unlearn_job.py.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from train import setup_cpu_distributed  # noqa: E402  (tools/train.py)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Unlearn a takedown from a ccu_av detector with CCU')
    parser.add_argument('config', help='job config, e.g. configs/ccu_bevfusion.py')
    parser.add_argument('--work-dir', help='where the job writes (default: the config\'s work_dir)')
    parser.add_argument('--resume', action='store_true',
                        help='resume the CCU run from the latest checkpoint in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    parser.add_argument('--reference', choices=['visual-retrain'],
                        help='also train (once, cached) the visual-retrain reference: from scratch '
                             'with the forget scenes\' cameras erased, radar kept')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import ccu_av  # noqa: F401  (registers the modules; installs safe checkpoint loading)
    from ccu_av.apis import run_job

    if not osp.isfile(args.config):
        sys.exit(f'unlearn: config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'job' not in cfg:
        sys.exit(f'unlearn: {args.config} has no `job` section (see configs/ccu_bevfusion.py)')
    cfg.launcher = args.launcher
    if args.launcher == 'pytorch' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)  # mmengine's own path needs CUDA (tools/train.py)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.work_dir = work_dir
    out = run_job(cfg, work_dir, resume=args.resume, reference=args.reference,
                  config_path=args.config)
    print(headline_table(out['report']['json']))
    return out


def headline_table(report_json: str) -> str:
    """The figures a takedown reviewer reads first, from report.json."""
    import json
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
