"""Sequential fleet takedowns: requests run one after another, each from the last published model.

    python tools/benchmark_fleet.py                      # the five requests of configs/fleet/requests/
    python tools/benchmark_fleet.py --root work_dirs/fleet_bench --requests A.yaml B.yaml

Each request is submitted and run on its own (``tools/takedown.py submit`` + ``run`` through
``ccu_av.takedown.Fleet``): a request the gate refused stays pending and is merged into the next
run, or with --alone every step runs its own request only (``run --requests ID``), so a refused
request waits and the next one starts from the last published model all the same. After each
run the published model is evaluated on: camera-only mAP on the forget set of every request so
far (what was forgotten stays forgotten), radar-only mAP on the validation scenes no request
touched and on the flagged samples (retention), and fusion mAP on those validation scenes,
against the original's. The ledger lives under --root; the dataroot is not redacted. Writes
--root/sequential.json and sequential.md and prints the table.
"""
import argparse
import glob
import os.path as osp
import sys
import time

import mmengine

from ccu_av.utils.cli import CfgOptions

DEFAULT_REQUESTS = ['configs/fleet/requests/onenorth_site.yaml', 'configs/fleet/requests/boston_drives.yaml',
                    'configs/fleet/requests/onenorth_window.yaml', 'configs/fleet/requests/boston_site.yaml',
                    'configs/fleet/requests/boston_geofence.yaml']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='configs/fleet/ccu_fleet.py', help='fleet config')
    parser.add_argument('--root', default='work_dirs/fleet_sequential',
                        help='the benchmark\'s own fleet root (ledger, runs, models); must be new or its own')
    parser.add_argument('--requests', nargs='+', default=DEFAULT_REQUESTS, help='request files, in order')
    parser.add_argument('--alone', action='store_true',
                        help='run each request on its own: one the gate refused is not merged into later runs')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, help='override the fleet config')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import ccu_av  # noqa: F401  (registers the modules)
    from mmengine.logging import MMLogger
    from ccu_av.evaluation import evaluate_modes
    from ccu_av.jobs import steps
    from ccu_av.jobs.config import detector_config
    from ccu_av.takedown import Fleet, load_fleet_config, load_request
    from ccu_av.takedown.fleet import pose_records
    from ccu_av.takedown.request import resolve_request
    from ccu_av.utils import atomic_write, write_json_atomic

    MMLogger.get_instance('ccu_av', log_level='WARNING')
    missing = [path for path in args.requests if not osp.isfile(path)]
    if missing:
        sys.exit(f'benchmark_fleet: request files {missing} do not exist')
    options = dict(args.cfg_options or {}, **{'takedown.root': args.root})
    fleet = Fleet(load_fleet_config(args.config, options), progress=lambda line: print(line, flush=True))
    job = fleet.job_config()
    files = steps.data(job)
    records = pose_records(files.train_info)
    requests = [load_request(path) for path in args.requests]
    flagged = {r.id: list(resolve_request(r, records, files.train_info)) for r in requests}
    touched = {rec['location'] for rec in records if any(rec['token'] in set(t) for t in flagged.values())}
    val = [dict(token=i['token'], location=i['location']) for i in mmengine.load(files.val_info)['data_list']]
    untouched = [v['token'] for v in val if v['location'] not in touched]
    if not untouched:
        sys.exit('benchmark_fleet: the requests touch every location; no validation scene is left untouched')
    cfg = detector_config(job)
    cache = steps.prediction_cache_dir(job)

    def figures(checkpoint: str, done: list) -> dict:
        sets = dict(val_untouched=untouched, **{f'forget:{rid}': flagged[rid] for rid in done})
        return evaluate_modes(cfg, checkpoint, sets, cache_dir=cache)

    original = steps.original(job, files)
    base = figures(original.checkpoint, [r.id for r in requests])
    rows, start = [], time.monotonic()
    for i, request in enumerate(requests):
        fleet.submit(args.requests[i])
        tick = time.monotonic()
        outcome = fleet.run([request.id] if args.alone else None)
        with fleet.ledger() as ledger:
            model = ledger.current_model()
            published = [r.id for r in ledger.requests('published')]
        done = [r.id for r in requests[:i + 1]]
        now = figures(model.checkpoint, done)
        rows.append(dict(
            step=i + 1, request=request.id, passed=bool(outcome and outcome['passed']),
            gate_failed=[] if outcome is None else outcome['verdict']['failed'], model_version=model.version,
            published=published, run_s=time.monotonic() - tick,
            camera_forget={rid: now['camera'][f'forget:{rid}']['mAP'] for rid in done},
            camera_forget_original={rid: base['camera'][f'forget:{rid}']['mAP'] for rid in done},
            radar_val_untouched=now['radar']['val_untouched']['mAP'] / base['radar']['val_untouched']['mAP'],
            fusion_val_untouched=now['fusion']['val_untouched']['mAP'],
            fusion_val_untouched_ratio=now['fusion']['val_untouched']['mAP'] / base['fusion']['val_untouched']['mAP']))
        print(_row_line(rows[-1]), flush=True)
    result = dict(requests=args.requests, alone=args.alone, num_val_untouched=len(untouched), untouched_locations=sorted(
        {v['location'] for v in val} - touched), original_fusion_val_untouched=base['fusion']['val_untouched']['mAP'],
        rows=rows, total_s=time.monotonic() - start,
        runs=sorted(glob.glob(osp.join(args.root, 'runs', '*'))))
    write_json_atomic(osp.join(args.root, 'sequential.json'), result)
    table = render(result)
    atomic_write(osp.join(args.root, 'sequential.md'), table.encode())
    print(table)
    return result


def _row_line(row: dict) -> str:
    return (f"step {row['step']} {row['request']}: {'published v' + str(row['model_version']) if row['passed'] else 'refused by the gate ' + str(row['gate_failed'])}"
            f", fusion val-untouched {row['fusion_val_untouched_ratio']:.1%} of the original, {row['run_s']:.0f} s")


def render(result: dict) -> str:
    """The sequential table, Markdown."""
    lines = [('Each request run on its own (--alone). ' if result.get('alone') else '') +
             f"Validation samples of the untouched locations {result['untouched_locations']}: "
             f"{result['num_val_untouched']}; original's fusion mAP there "
             f"{result['original_fusion_val_untouched']:.3f}.", '',
             '| step | request | gate | model | cam mAP on each forget set so far (original -> now) | '
             'radar val-untouched / original | fusion val-untouched (/ original) | run s |',
             '|---|---|---|---|---|---|---|---|']
    for row in result['rows']:
        forgets = '; '.join(f"{rid}: {row['camera_forget_original'][rid]:.3f} -> {value:.3f}"
                            for rid, value in row['camera_forget'].items())
        gate = 'pass' if row['passed'] else 'fail: ' + ', '.join(row['gate_failed'])
        lines.append(f"| {row['step']} | {row['request']} | {gate} | v{row['model_version']} | {forgets} | "
                     f"{row['radar_val_untouched']:.3f} | {row['fusion_val_untouched']:.3f} "
                     f"({row['fusion_val_untouched_ratio']:.1%}) | {row['run_s']:.0f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
