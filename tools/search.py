"""The fair comparison's hyperparameter search: one method's settings on the development takedown.

    python tools/search.py configs/search/neggrad.py [--out work_dirs/search] [--takedown development]

The search file (configs/search/*.py; ccu_av/benchmark/search.py) names the method's config and at
most 8 settings (--cfg-options-style keys). Each setting runs as `tools/benchmark.py` would run that
method on the takedown (the original and the visual retrains cached, no relearning check), under
--out/<method>/<setting>/; the setting whose report has the smallest mean absolute gap to the
retrains' mean is chosen. Writes --out/<method>/search.md and search.json; one progress line a
setting. Settings are chosen on the development takedown only: its figures are never reported as
results (docs/results.md, protocol).
"""
import argparse
import os.path as osp
import sys
import time

from ccu_av.utils.cli import user_errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('search', help='search file, e.g. configs/search/neggrad.py')
    parser.add_argument('--suite', default='configs/takedowns/suite.py', help='the takedown suite')
    parser.add_argument('--takedown', default='development', help='the suite\'s takedown to search on')
    parser.add_argument('--out', default='work_dirs/search', help='where the settings\' results and the table go')
    parser.add_argument('--settings', nargs='+', metavar='NAME',
                        help='run only these settings of the file (a partial search: its table says so and '
                             'its choice is among them only; the others can be run later, each result cached)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import ccu_av  # noqa: F401  (registers the modules)
    from ccu_av.benchmark import load_suite, run_takedown
    from ccu_av.benchmark.search import load_search, render_search, run_search
    from ccu_av.utils import atomic_write, write_json_atomic

    with user_errors('search'):
        search = load_search(args.search)
        suite = load_suite(args.suite)
        (takedown,) = suite.pick([args.takedown], None)
        if takedown.role != 'development':
            raise ValueError(f'--takedown {args.takedown} is a {takedown.role} takedown: settings are chosen on '
                             'a development takedown only, never on one whose figures are reported')
        grid = list(search['settings'])
        if args.settings:
            unknown = [n for n in args.settings if n not in search['settings']]
            if unknown:
                raise ValueError(f'--settings {" ".join(unknown)}: not in {args.search}, whose settings are '
                                 f'{", ".join(grid)}')
            search['settings'] = {n: o for n, o in search['settings'].items() if n in args.settings}
    partial = len(search['settings']) < len(grid)
    out_dir = osp.join(args.out, search['name'])
    start = time.monotonic()

    def run_setting(name: str, options: dict) -> dict:
        print(f'[{time.monotonic() - start:6.0f} s] {search["name"]} {name}: {options}', flush=True)
        return run_takedown(search['method'], takedown, suite.reference_seeds, osp.join(out_dir, name),
                            relearn_iters=(), cfg_options=options,
                            progress=lambda line: print(f'[{time.monotonic() - start:6.0f} s]   {line}', flush=True))

    result = run_search(search, run_setting)
    command = 'python tools/search.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    table = render_search(result, command)
    if partial:
        table = (f'**Partial search**: {len(search["settings"])} of the {len(grid)} settings of {args.search} '
                 f'(not run: {", ".join(n for n in grid if n not in search["settings"])}); the choice is among '
                 'those run only.\n\n' + table)
        result['partial'] = dict(run=list(search['settings']), grid=grid)
    atomic_write(osp.join(out_dir, 'search.md'), table.encode())
    write_json_atomic(osp.join(out_dir, 'search.json'), dict(result, command=command, takedown=args.takedown))
    print(table)
    return result


if __name__ == '__main__':
    main()
