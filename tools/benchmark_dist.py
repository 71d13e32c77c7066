"""Time per step of the main job's unlearning step and of pretraining with 1 and with N processes.

    python tools/benchmark_dist.py [CONFIG] [--procs 1 2] [--iters 40] [--warmup 10] [--out DIR]

CONFIG is a job config (default: configs/ccu_bevfusion.py). For each step ("unlearn": the job's
method, CCU by default, through ``jobs.steps.unlearn``; "pretrain": the job's pretraining
schedule through mmengine's Runner) and each process count, the step runs ``--iters``
iterations in a fresh folder under ``--out``: one process with every core's threads, or N
processes under torchrun (``tools/dist_run.sh``, gloo on a CPU-only torch, one thread each).
mmengine logs every iteration's time on rank 0; the figure is the median after ``--warmup``
iterations. Each process reads its own batch, so N processes take N batches a step: the table
gives samples per second beside the step time. The dataset and the original model must exist
(run ``python tools/unlearn.py CONFIG`` once first). Writes ``DIR/benchmark_dist.md`` and
``.json``; run it with nothing else heavy on the machine.

Inside torchrun the tool runs one step (``--worker``); that is how the parent calls it.
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
STEPS = ('unlearn', 'pretrain')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default='configs/ccu_bevfusion.py', help='job config')
    parser.add_argument('--procs', type=int, nargs='+', default=[1, 2], help='process counts to time')
    parser.add_argument('--steps', nargs='+', choices=STEPS, default=list(STEPS), help='steps to time')
    parser.add_argument('--iters', type=int, default=40, help='iterations of each run')
    parser.add_argument('--warmup', type=int, default=10, help='first iterations left out of the median')
    parser.add_argument('--out', default='work_dirs/benchmark_dist', help='where runs and the table go')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, help='settings merged into the config')
    parser.add_argument('--worker', choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    parser.add_argument('--launcher', default='none', help=argparse.SUPPRESS)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters <= args.warmup:
        parser.error(f'--iters ({args.iters}) must exceed --warmup ({args.warmup})')
    if any(p < 1 for p in args.procs):
        parser.error(f'--procs must be positive, got {args.procs}')
    return args


def timing_options(iters: int) -> dict:
    """What every timed run sets: its length, a log line (and time) per iteration, no checkpoint
    or validation inside the run."""
    return {'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters + 1,
            'default_hooks.logger.interval': 1, 'log_processor.window_size': 1,
            'default_hooks.checkpoint.interval': iters + 1, 'default_hooks.checkpoint.save_last': False}


def worker(args) -> None:
    """One timed run of ``args.worker`` (every rank of a torchrun calls this)."""
    from mmengine.runner import Runner

    from ccu_av.jobs import load_job_config, steps
    from ccu_av.jobs.config import pretrain_config
    from ccu_av.utils import release_dataloader_workers
    from ccu_av.utils.dist import configure_runner, init_launcher
    cfg = load_job_config(args.config, args.cfg_options)
    init_launcher(args.launcher, cfg)
    files = steps.data(cfg)
    if args.worker == 'unlearn':
        original = steps.cached_original(cfg, files)
        if original is None:
            raise FileNotFoundError(f'the original model of {args.config} is not cached; run '
                                    f'python tools/unlearn.py {args.config} once first')
        # the takedown's loop sizes the run from the forget set, with max_iters its cap: a floor
        # as high makes every timed run exactly --iters long, whatever the forget set
        options = timing_options(args.iters)
        if cfg.train_cfg.get('type') == 'ForgetPassTrainLoop':
            options['train_cfg.min_iters'] = args.iters
        for key, value in options.items():
            cfg.merge_from_dict({key: value})
        steps.unlearn(cfg, args.work_dir, original, launcher=args.launcher)
        return
    run = pretrain_config(cfg)
    run.merge_from_dict(timing_options(args.iters))
    run.work_dir = args.work_dir
    configure_runner(run, args.launcher)
    runner = Runner.from_cfg(run)
    runner.train()
    release_dataloader_workers(runner)


def iteration_times(work_dir: str) -> list:
    """Every logged iteration's ``time`` (s) from the run's ``vis_data/scalars.json``, in order."""
    found = sorted(p for p in (osp.join(root, name) for root, _, names in os.walk(work_dir) for name in names)
                   if p.endswith(osp.join('vis_data', 'scalars.json')))
    if not found:
        raise FileNotFoundError(f'{work_dir} holds no vis_data/scalars.json: the run logged nothing')
    with open(found[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row['time'] for row in sorted(rows, key=lambda r: r['step']) if 'time' in row]


def batch_size(config: str, step: str, cfg_options) -> int:
    """Samples one process reads per iteration of ``step``: the retain batch (and, unlearning, the
    forget batch paired with it)."""
    from ccu_av.jobs import load_job_config
    from ccu_av.jobs.config import pretrain_config
    cfg = load_job_config(config, cfg_options)
    if step == 'pretrain':
        return int(pretrain_config(cfg).train_dataloader.batch_size)
    loader = cfg.train_dataloader
    sampler = loader.get('batch_sampler') or {}
    retain = int(sampler.get('batch_size', loader.batch_size))
    forget = sampler.get('forget_batch_size')
    return retain + (retain if forget is None else int(forget))


def run_one(args, step: str, procs: int) -> dict:
    """Run ``step`` with ``procs`` processes in a fresh folder; its timing row."""
    work_dir = osp.join(args.out, f'{step}-{procs}proc')
    if osp.isdir(work_dir):
        shutil.rmtree(work_dir)  # a timing run's own folder, written by this tool
    worker_args = ['--worker', step, '--iters', str(args.iters), '--warmup', str(args.warmup),
                   '--work-dir', work_dir]
    if args.cfg_options:
        worker_args += ['--cfg-options'] + [f'{k}={json.dumps(v)}' for k, v in args.cfg_options.items()]
    env = dict(os.environ, PYTHONPATH=ROOT + (':' + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else ''))
    if procs == 1:
        env['OMP_NUM_THREADS'] = str(os.cpu_count())
        command = [sys.executable, osp.join(ROOT, 'tools', 'benchmark_dist.py'), args.config] + worker_args
    else:
        env['OMP_NUM_THREADS'] = str(max(1, os.cpu_count() // procs))
        env['PYTHON'] = sys.executable
        command = ['bash', osp.join(ROOT, 'tools', 'dist_run.sh'), 'benchmark_dist', args.config, str(procs)] + worker_args
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f'{step} with {procs} processes failed (exit {done.returncode}):\n{done.stderr[-3000:]}')
    times = iteration_times(work_dir)[args.warmup:]
    per_step = statistics.median(times)
    samples = batch_size(args.config, step, args.cfg_options) * procs
    return dict(step=step, procs=procs, threads_per_proc=int(env['OMP_NUM_THREADS']), iters=args.iters,
                warmup=args.warmup, median_step_s=per_step, samples_per_step=samples,
                samples_per_s=samples / per_step, run_wall_s=wall,
                quartiles_s=statistics.quantiles(times, n=4) if len(times) >= 2 else [per_step] * 3)


def render(rows: list, command: str) -> str:
    lines = [f'`{command}`', '',
             '| step | processes x threads | median s/step (quartiles) | samples/step | samples/s | vs 1 process |',
             '|---|---|---|---|---|---|']
    first = {r['step']: r for r in rows if r['procs'] == min(x['procs'] for x in rows if x['step'] == r['step'])}
    for r in rows:
        q = r['quartiles_s']
        speed = r['samples_per_s'] / first[r['step']]['samples_per_s']
        lines.append(f"| {r['step']} | {r['procs']} x {r['threads_per_proc']} | {r['median_step_s']:.3f} "
                     f"({q[0]:.3f}-{q[2]:.3f}) | {r['samples_per_step']} | {r['samples_per_s']:.2f} | "
                     f"{speed:.2f}x samples/s, {r['median_step_s'] / first[r['step']]['median_step_s']:.2f}x s/step |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    with user_errors('benchmark_dist'):
        if not osp.isfile(args.config):
            raise FileNotFoundError(f'config {args.config} does not exist')
    rows = []
    for step in args.steps:
        for procs in args.procs:
            print(f'{step} with {procs} process(es), {args.iters} iterations ...', flush=True)
            rows.append(run_one(args, step, procs))
            print(f"  median {rows[-1]['median_step_s']:.3f} s/step, {rows[-1]['samples_per_s']:.2f} samples/s",
                  flush=True)
    return publish(rows, render, osp.join(args.out, 'benchmark_dist'), 'benchmark_dist', argv)


def publish(rows: list, render, out_stem: str, tool: str, argv=None) -> dict:
    """Write ``render(rows, command)`` to ``out_stem.md`` and the rows to ``out_stem.json``, with
    the command that made them (``tools/<tool>.py`` and its arguments); print the table."""
    from ccu_av.utils import atomic_write, write_json_atomic
    command = f'python tools/{tool}.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    table = render(rows, command.strip())
    atomic_write(out_stem + '.md', table.encode())
    write_json_atomic(out_stem + '.json', dict(rows=rows, command=command))
    print(table)
    return dict(rows=rows)


if __name__ == '__main__':
    main()
