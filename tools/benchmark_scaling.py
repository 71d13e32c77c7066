"""How the unlearning step's wall time grows with the forget set and with the training set.

    python tools/benchmark_scaling.py [CONFIG] [--conditions base train_2x forget_2x] [--out DIR]

Runs the job's unlearning step (``jobs.steps.unlearn``: Runner set-up, the method's pre-pass and
its training, the export; no evaluation) from the job's cached original in three conditions,
one after another, each in its own process and fresh folder:

- ``base``: the job as configured (the main job: every training scene of
  singapore-hollandvillage, 480 of 1,920 training samples);
- ``train_2x``: the same number of flagged samples in a training set twice as large: a synthetic
  dataset written with twice the training scenes a location (``--big-data-root``, written on
  the first run, about 6 minutes and 1.9 GB), the takedown the first half of that location's
  training scenes (as many as ``base`` flags); the original checkpoint of ``base`` serves (for
  timing only: it was not trained on this data);
- ``forget_2x``: twice the flagged samples in the same training set: the job's takedown plus as
  many training scenes of ``--second-location``.

The wall time is the step's own (``TrainedModel.wall_time_s``, training started to weights
written), beside the median iteration time from mmengine's log. Writes ``DIR/scaling.md`` and
``.json``; run it with nothing else heavy on the machine. Inside it runs one condition
(``--worker``); that is how the parent calls it.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time

from ccu_av.utils.cli import CfgOptions, user_errors

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
from benchmark_dist import iteration_times, publish  # noqa: E402  (tools/benchmark_dist.py)
CONDITIONS = ('base', 'train_2x', 'forget_2x')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default='configs/ccu_bevfusion.py', help='job config')
    parser.add_argument('--conditions', nargs='+', choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument('--big-data-root', default='data/synthetic_nuscenes_2x/',
                        help='the synthetic dataset with twice the training scenes (written if absent)')
    parser.add_argument('--second-location', default='boston-seaport',
                        help='the location whose training scenes forget_2x adds to the takedown')
    parser.add_argument('--out', default='work_dirs/benchmark_scaling', help='where runs and the table go')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, help='settings merged into the config')
    parser.add_argument('--worker', choices=CONDITIONS, help=argparse.SUPPRESS)
    parser.add_argument('--original', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def train_scene_names(info_file: str) -> dict:
    """Location -> the sorted names of its scenes in a training info file."""
    import mmengine
    out = {}
    for info in mmengine.load(info_file)['data_list']:
        out.setdefault(info['location'], set()).add(info['scene_name'])
    return {location: sorted(names) for location, names in out.items()}


def base_scene_names(cfg, files) -> list:
    """The training scenes the job's own takedown flags (every flagged sample's scene)."""
    from ccu_av.jobs.config import takedown_request
    request = takedown_request(cfg)
    scenes = train_scene_names(files.train_info)
    if request.locations and not (request.scenes or request.logs or request.time_windows):
        return [name for location in request.locations for name in scenes[location]]
    raise ValueError(f'{cfg.filename}: benchmark_scaling builds its conditions from a takedown of whole '
                     f'locations; this job\'s takedown is {request}')


def configure(args, condition: str):
    """The job config of ``condition``, its data written."""
    from ccu_av.jobs import load_job_config, steps
    from ccu_av.jobs.config import point_data_at, training_dataset
    cfg = load_job_config(args.config, args.cfg_options)
    files = steps.data(cfg)
    flagged = base_scene_names(cfg, files)
    if condition == 'train_2x':
        synthetic = dict(cfg.job.synthetic or {})
        scenes = synthetic.get('train_scenes_per_location', 60)
        cfg.job.synthetic = dict(synthetic, train_scenes_per_location=2 * scenes)
        point_data_at(cfg, args.big_data_root)  # the report's loaders and evaluators
        cfg.train_dataloader.dataset.pop('data_root')  # not the takedown wrapper's own ...
        training_dataset(cfg).data_root = args.big_data_root  # ... but the dataset it selects from
        big = steps.data(cfg)
        location = cfg.train_dataloader.dataset.takedown['locations'][0]
        cfg.train_dataloader.dataset.takedown = dict(scenes=train_scene_names(big.train_info)[location][:len(flagged)])
        return cfg, big
    if condition == 'forget_2x':
        second = train_scene_names(files.train_info).get(args.second_location)
        if not second:
            raise ValueError(f'--second-location {args.second_location} has no training scenes in {files.train_info}')
        cfg.train_dataloader.dataset.takedown = dict(scenes=flagged + second[:len(flagged)])
    return cfg, files


def worker(args) -> dict:
    """One condition's timed unlearning step; its row, also written as ``timing.json``."""
    from ccu_av.jobs import steps
    from ccu_av.utils import write_json_atomic
    cfg, files = configure(args, args.worker)
    work_dir = osp.join(args.out, args.worker)
    sets = steps.select(cfg, files, osp.join(work_dir, 'selection'))
    with open(args.original) as f:
        original = steps.TrainedModel(**json.load(f))
    model = steps.unlearn(cfg, work_dir, original)
    times = iteration_times(work_dir)
    row = dict(condition=args.worker, num_forget=len(sets.forget), num_retain=len(sets.retain),
               num_train=len(sets.forget) + len(sets.retain), wall_s=model.wall_time_s,
               logged_iters=len(times), median_iter_s=statistics.median(times))
    write_json_atomic(osp.join(work_dir, 'timing.json'), row)
    return row


def render(rows: list, command: str) -> str:
    base = next((r for r in rows if r['condition'] == 'base'), rows[0])
    lines = [f'`{command}`', '',
             '| condition | training samples | flagged | retain | step wall time (s) | vs base | median s/iteration |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['condition']} | {r['num_train']:,} | {r['num_forget']:,} | {r['num_retain']:,} | "
                     f"{r['wall_s']:.0f} | {r['wall_s'] / base['wall_s']:.2f}x | {r['median_iter_s']:.3f} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    from ccu_av.jobs import load_job_config, steps
    with user_errors('benchmark_scaling'):
        cfg = load_job_config(args.config, args.cfg_options)  # names a missing or broken config
        original = steps.cached_original(cfg, steps.data(cfg))
        if original is None:
            raise FileNotFoundError(f'the original model of {args.config} is not cached; run '
                                    f'python tools/unlearn.py {args.config} once first')
    os.makedirs(args.out, exist_ok=True)
    original_file = osp.join(args.out, 'original.json')
    with open(original_file, 'w') as f:
        json.dump(dict(checkpoint=original.checkpoint, checkpoint_sha256=original.checkpoint_sha256), f)
    env = dict(os.environ, PYTHONPATH=ROOT + (':' + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else ''))
    rows = []
    for condition in args.conditions:
        work_dir = osp.join(args.out, condition)
        if osp.isdir(work_dir):
            shutil.rmtree(work_dir)  # a timing run's own folder, written by this tool
        print(f'{condition} ...', flush=True)
        command = [sys.executable, osp.join(ROOT, 'tools', 'benchmark_scaling.py'), args.config,
                   '--worker', condition, '--original', original_file, '--out', args.out,
                   '--big-data-root', args.big_data_root, '--second-location', args.second_location]
        if args.cfg_options:
            command += ['--cfg-options'] + [f'{k}={json.dumps(v)}' for k, v in args.cfg_options.items()]
        start = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f'{condition} failed (exit {done.returncode}):\n{done.stderr[-3000:]}')
        with open(osp.join(work_dir, 'timing.json')) as f:
            rows.append(dict(json.load(f), process_wall_s=time.monotonic() - start))
        print(f"  {rows[-1]['wall_s']:.0f} s ({rows[-1]['num_forget']} flagged, {rows[-1]['num_retain']} retain)",
              flush=True)
    return publish(rows, render, osp.join(args.out, 'scaling'), 'benchmark_scaling', argv)


if __name__ == '__main__':
    main()
