"""Fleet privacy takedowns: submit requests, run them, publish verified models, redact footage.

    python tools/takedown.py submit configs/fleet/requests/onenorth_site.yaml
    python tools/takedown.py run [--requests ID ...]  # pending requests -> unlearn -> gate -> publish
    python tools/takedown.py status [--json]      # counts, the published model, what is pending
    python tools/takedown.py list [--json]        # every request, model version and run
    python tools/takedown.py redact REQUEST_ID [--quarantine DIR]
    python tools/takedown.py verify               # audit chain, its copies, the models' hashes

Every subcommand takes --config (the fleet config, default configs/fleet/ccu_fleet.py) and
--cfg-options key=value ... after its own arguments. State lives in the config's SQLite ledger;
docs/takedown.md walks from a request file to a published model and redacted footage. Exit
status: 0 done, 1 a run not published by the gate or a failed verification, 2 refused input.
"""
import argparse
import json
import sys
from typing import List, Sequence

from ccu_av.utils.cli import CfgOptions, user_errors


def parse_args(argv=None):
    # --config and --cfg-options are options of every subcommand, given after it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--config', default='configs/fleet/ccu_fleet.py', help='fleet config')
    common.add_argument('--cfg-options', nargs='+', action=CfgOptions, default={},
                        help='override the fleet config, e.g. takedown.root=work_dirs/fleet2')
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    submit = commands.add_parser('submit', parents=[common], help='validate request files and record them as pending')
    submit.add_argument('requests', nargs='+', help='request YAML files')
    run = commands.add_parser('run', parents=[common],
                              help='unlearn the pending requests and publish the model if the gate passes')
    run.add_argument('--requests', nargs='+', metavar='REQUEST_ID',
                     help='run only these pending requests (default: every pending request, merged)')
    for name, what in (('status', 'counts, the published model and the pending requests'),
                       ('list', 'every request, model version and run')):
        command = commands.add_parser(name, parents=[common], help=what)
        command.add_argument('--json', action='store_true', help='print JSON instead of tables')
    redact = commands.add_parser('redact', parents=[common],
                                 help='remove a published request\'s camera files from the dataroot')
    redact.add_argument('request_id')
    redact.add_argument('--quarantine', help='move the files into this folder instead of deleting them')
    commands.add_parser('verify', parents=[common],
                        help='check the audit chain, its exported copies and the models\' hashes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import ccu_av  # noqa: F401  (registers the modules; installs safe checkpoint loading)
    from mmengine.logging import MMLogger
    from ccu_av.takedown import Fleet, LedgerError, LedgerLocked, TakedownError, load_fleet_config

    MMLogger.get_instance('ccu_av', log_level='WARNING')
    try:
        with user_errors(f'takedown {args.command}', LedgerError, LedgerLocked, TakedownError):
            fleet = Fleet(load_fleet_config(args.config, args.cfg_options),
                          progress=lambda line: print(line, flush=True))
            return COMMANDS[args.command](fleet, args)
    except SystemExit as exit_:
        return exit_.code


def _submit(fleet, args) -> int:
    for path in args.requests:
        request_id, added, flagged = fleet.submit(path)
        print(f'{request_id}: {"pending" if added else "already submitted with this content; nothing changed"} '
              f'({flagged} training samples flagged)')
    return 0


def _run(fleet, args) -> int:
    outcome = fleet.run(args.requests)
    if outcome is None:
        return 0
    print(json.dumps(dict(outcome, verdict=outcome['verdict']['failed'] or 'passed'), indent=1))
    return 0 if outcome['passed'] else 1


def _status(fleet, args) -> int:
    status = fleet.status()
    pending = [r for r in status['requests'] if r['state'] == 'pending']
    summary = dict(
        requests={state: sum(r['state'] == state for r in status['requests']) for state in ('pending', 'published')},
        redacted=sum(r['redacted'] for r in status['requests']),
        published_model=status['models'][-1] if status['models'] else None,
        pending=[dict(id=r['id'], last_failure=r['last_failure']) for r in pending])
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    model = summary['published_model']
    print(f'requests: {summary["requests"]["pending"]} pending, {summary["requests"]["published"]} published, '
          f'{summary["redacted"]} redacted')
    print('published model: ' + ('none yet (the first run records the configured original as v0)' if model is None
                                 else f'v{model["version"]} {model["checkpoint"]} ({model["checkpoint_sha256"][:12]})'))
    if pending:
        print(table(['pending request', 'last failure'], [[r['id'], r['last_failure'] or '-'] for r in pending]))
    return 0


def _list(fleet, args) -> int:
    status = fleet.status()
    if args.json:
        print(json.dumps(status, indent=1))
        return 0
    print(table(['request', 'state', 'redacted', 'run', 'submitted', 'last failure'],
                [[r['id'], r['state'], 'yes' if r['redacted'] else 'no', r['run_id'] or '-', _time(r['submitted_at']),
                  r['last_failure'] or '-'] for r in status['requests']]))
    print()
    print(table(['model', 'parent', 'run', 'sha256', 'checkpoint'],
                [[f'v{m["version"]}', '-' if m['parent_version'] is None else f'v{m["parent_version"]}',
                  m['run_id'] or '-', m['checkpoint_sha256'][:12], m['checkpoint']] for m in status['models']]))
    print()
    print(table(['run', 'state', 'requests', 'from', 'to', 'started', 'reason'],
                [[r['id'], r['state'], ','.join(r['request_ids']), f'v{r["input_version"]}',
                  '-' if r['output_version'] is None else f'v{r["output_version"]}', _time(r['started_at']),
                  r['reason'] or '-'] for r in status['runs']]))
    return 0


def _redact(fleet, args) -> int:
    done = fleet.redact(args.request_id, args.quarantine)
    print(f'{done["request_id"]}: ' + ('already redacted; nothing changed' if done['already']
                                      else f'{done["files"]} camera files redacted'))
    return 0


def _verify(fleet, args) -> int:
    problems = fleet.verify()
    for problem in problems:
        print(f'verify: {problem}')
    print('verify: audit chain, its copies and the published models are intact' if not problems
          else f'verify: {len(problems)} problems')
    return 1 if problems else 0


def table(header: Sequence[str], rows: List[Sequence]) -> str:
    """A plain-text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def _time(seconds) -> str:
    import time
    return '-' if seconds is None else time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))


COMMANDS = dict(submit=_submit, run=_run, status=_status, list=_list, redact=_redact, verify=_verify)

if __name__ == '__main__':
    sys.exit(main())
