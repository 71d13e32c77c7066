"""The takedown suite benchmark: methods x takedowns, one table.

    python tools/benchmark.py                                   # CCU on the reported takedowns
    python tools/benchmark.py --role development                # the takedown settings are chosen on
    python tools/benchmark.py --takedowns private_site --methods configs/unlearn/finetune_bevfusion.py

For every takedown of the suite (configs/takedowns/suite.py) and method config, the original, the
visual retrain of each reference seed, the method's unlearning, the relearning check and the
report are run through the job steps, every result cached (trained models under the job's
cache_dir, the rest under --out), with one progress line per step. Writes --out/benchmark.md,
benchmark.csv, benchmark.json and benchmark.png. With --from-records it only writes the table
of the records earlier runs left under --out (a cached unlearning result is keyed by the
package's code, so a rerun after a code change unlearns and evaluates again).
"""
import argparse
import os.path as osp
import time

from ccu_av.utils.cli import CfgOptions, user_errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', default='configs/takedowns/suite.py', help='the takedown suite')
    parser.add_argument('--methods', nargs='+', default=['configs/ccu_bevfusion.py'],
                        help='job configs of the methods (configs/unlearn/*.py)')
    parser.add_argument('--takedowns', nargs='+', help='takedowns of the suite by name (default: by --role)')
    parser.add_argument('--role', choices=['reported', 'development', 'all'], default='reported',
                        help='which takedowns when --takedowns is not given')
    parser.add_argument('--out', default='work_dirs/benchmark', help='where results and the table go')
    parser.add_argument('--relearn-iters', type=int, nargs='*', default=[0, 10, 30],
                        help='iterations of the relearning check (none: skip it)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
                        help='settings merged into every method config, key=value pairs')
    parser.add_argument('--from-records', action='store_true',
                        help='write the table from the records earlier runs left under --out '
                             '(<out>/<takedown>/record-<method>.json), training and evaluating nothing')
    parser.add_argument('--references-only', action='store_true',
                        help='train (or find cached) the original and the visual retrains of the takedowns '
                             'and stop: no method is run and no table written')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import ccu_av  # noqa: F401  (registers the modules)
    from mmengine.logging import MMLogger
    from ccu_av.benchmark import (gate_rows, load_suite, plot_suite, render_csv, render_gate_markdown,
                                  render_markdown, run_takedown, takedown_config, takedown_rows,
                                  train_references)
    from ccu_av.utils import atomic_write, write_json_atomic

    with user_errors('benchmark'):
        suite = load_suite(args.suite)
        takedowns = suite.pick(args.takedowns, None if args.takedowns or args.role == 'all' else args.role)
        missing = [m for m in args.methods if not osp.isfile(m)]
        if missing:
            raise FileNotFoundError(f'method configs {missing} do not exist')
    MMLogger.get_instance('ccu_av', log_level='WARNING')
    start = time.monotonic()

    def progress(line: str) -> None:
        print(f'[{time.monotonic() - start:6.0f} s] {line}', flush=True)

    if args.references_only:
        for takedown in takedowns:
            cfg = takedown_config(args.methods[0], takedown, args.cfg_options)
            train_references(cfg, takedown, suite.reference_seeds, osp.join(args.out, takedown.name),
                             lambda step: progress(f'[{takedown.name}] {step}'))
        progress('references trained')
        return dict(records=[], rows=[])
    records, rows, gates = [], [], []
    for method in args.methods:
        for takedown in takedowns:
            progress(f'{method} on {takedown.name} ({takedown.kind}, {takedown.role})')
            if args.from_records:
                with user_errors('benchmark'):
                    record = read_record(args.out, method, takedown.name, args.cfg_options)
            else:
                record = run_takedown(method, takedown, suite.reference_seeds, args.out,
                                      relearn_iters=args.relearn_iters, cfg_options=args.cfg_options,
                                      progress=progress)
            records.append(record)
            rows += [r for r in takedown_rows(record)
                     if r['model_role'] == 'unlearned' or method == args.methods[0]]
            gates += [r for r in gate_rows(record) if r['model'] == record['method'] or method == args.methods[0]]
    table = render_markdown(rows) + ('\n## The verification gate (ccu_av.takedown.gate) against the retrain-based '
                                     'judgement\n\n' + render_gate_markdown(gates))
    atomic_write(osp.join(args.out, 'benchmark.md'), table.encode())
    atomic_write(osp.join(args.out, 'benchmark.csv'), render_csv(rows).encode())
    write_json_atomic(osp.join(args.out, 'benchmark.json'), dict(suite=args.suite, records=records, rows=rows,
                                                                 gate=gates))
    plot_suite(rows, osp.join(args.out, 'benchmark.png'))
    print(table)
    progress(f'done; table in {args.out}/benchmark.md')
    return dict(records=records, rows=rows)


def read_record(out: str, method_config: str, takedown: str, cfg_options=None) -> dict:
    """The record an earlier run of ``method_config`` on ``takedown`` left under ``out``."""
    from ccu_av.jobs import load_job_config, method_name
    from ccu_av.utils import read_json
    path = osp.join(out, takedown, f'record-{method_name(load_job_config(method_config, cfg_options))}.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: {method_config} was not run on {takedown} with '
                                f'--out {out}; run without --from-records')
    return read_json(path, 'run the benchmark without --from-records to write it again')


if __name__ == '__main__':
    main()
