"""The hyperparameter search of the fair comparison (docs/results.md, "protocol"): one method's
settings, at most :data:`MAX_SETTINGS`, each run on the development takedown through the
benchmark's cached steps and judged by the report's ``mean_abs_gap_to_visual_retrain`` (18
figures against the mean of the retrain seeds); the setting with the smallest gap is chosen.

A search file is an mmengine config (``configs/search/*.py``)::

    method = 'configs/unlearn/neggrad_bevfusion.py'
    settings = dict(
        lr3e-4={'optim_wrapper.optimizer.lr': 3e-4},
        ...)

Each setting's ``--cfg-options``-style keys are checked (a misspelt key would otherwise search
nothing): a ``model.*`` key by building the method's model with it (``jobs.steps.check_method``:
an unknown objective argument is refused), any other key must exist in the method's config;
``settings`` may hold at most :data:`MAX_SETTINGS` entries.
"""
import json
import os.path as osp
from typing import Callable, Optional

from ..jobs import load_job_config, method_name, steps
from ..utils.cli import load_config
from .table import takedown_rows

MAX_SETTINGS = 8
SEARCH_KEYS = ('method', 'settings')
CRITERION = 'mean_abs_gap_to_visual_retrain'


def _has_key(cfg, dotted: str) -> bool:
    node = cfg
    for part in dotted.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif hasattr(node, 'keys') and part in node:
            node = node[part]
        else:
            return False
    return True


def load_search(path: str) -> dict:
    """The search file's ``method`` (a config path) and ``settings`` (name -> options), checked.

    Raises:
        FileNotFoundError: the file or its method config does not exist.
        ValueError: an unknown or missing top-level key, no settings or more than
            :data:`MAX_SETTINGS`, a setting that is not a dict, or an option key the method's
            config does not have (named, with the setting).
    """
    cfg = load_config(path, what='search file')
    keys = set(cfg.keys())
    unknown, missing = sorted(keys - set(SEARCH_KEYS)), sorted(set(SEARCH_KEYS) - keys)
    if unknown or missing:
        raise ValueError(f'search file {path}: ' + '; '.join(
            ([f'unknown keys {unknown}'] if unknown else []) + ([f'missing keys {missing}'] if missing else []))
            + f'; a search file has {list(SEARCH_KEYS)}')
    method = cfg.method
    if not osp.isfile(method):
        raise FileNotFoundError(f'search file {path}: method config {method} does not exist')
    settings = dict(cfg.settings)
    if not settings or len(settings) > MAX_SETTINGS:
        raise ValueError(f'search file {path}: settings must hold 1 to {MAX_SETTINGS} entries '
                         f'(the protocol\'s budget), got {len(settings)}')
    method_cfg = load_job_config(method)
    out = {}
    for name, options in settings.items():
        if not hasattr(options, 'items'):
            raise ValueError(f'search file {path}: setting {name!r} must be a dict of config keys, got {options!r}')
        # options of the model (its objective's arguments among them, defaults not written in
        # the config) are checked by building it; any other key must exist in the config
        absent = [key for key in options if not key.startswith('model.') and not _has_key(method_cfg, key)]
        if absent:
            raise ValueError(f'search file {path}: setting {name!r} sets {absent}, which {method} does not have')
        merged = load_job_config(method, dict(options))
        try:
            steps.check_method(merged)
        except ValueError as error:
            raise ValueError(f'search file {path}: setting {name!r}: {error}') from error
        out[name] = {key: value for key, value in options.items()}
    return dict(method=method, settings=out, name=method_name(method_cfg))


def run_search(search: dict, run_setting: Callable[[str, dict], dict]) -> dict:
    """Run every setting (``run_setting(name, options)`` returns the benchmark's takedown record
    with its report read, as :func:`setting_result` takes it) and choose the smallest gap.

    Returns:
        ``{'method', 'rows': [{'setting', 'options', 'gap', 'targets', ...}], 'chosen'}``; a
        setting without a gap (no retrain in its report) is never chosen.
    """
    rows = [dict(setting=name, options=options, **setting_result(run_setting(name, options)))
            for name, options in search['settings'].items()]
    scored = [r for r in rows if r['gap'] is not None]
    chosen = min(scored, key=lambda r: r['gap'])['setting'] if scored else None
    return dict(method=search['name'], method_config=search['method'], rows=rows, chosen=chosen)


def setting_result(record: dict) -> dict:
    """The figures of one setting's record: the criterion, the method's wall time, and the
    targets of the suite's table (``table.takedown_rows``)."""
    with open(record['report']) as f:
        report = json.load(f)
    method = record['method']
    rows = takedown_rows(record)
    row = next(r for r in rows if r['model_role'] == 'unlearned')
    return dict(gap=report['derived'][method].get(CRITERION), wall_time_s=row['wall_time_s'],
                camera_forget=row['camera_forget'], fusion_retain=row['fusion_retain'],
                fusion_val_other=row['fusion_val_other'], membership=row['membership'],
                targets_missed=sorted(k for k, t in row['targets'].items() if not t.get('met')))


def render_search(result: dict, command: Optional[str] = None) -> str:
    """The search's table (Markdown), the chosen setting in bold."""
    def fmt(v):
        return '-' if v is None else f'{v:.4f}' if isinstance(v, float) else str(v)
    lines = ([f'`{command}`', ''] if command else []) + [
        f"Search of {result['method']} ({result['method_config']}), criterion `{CRITERION}`.", '',
        '| setting | options | cam mAP forget | fusion retain | fusion val-other | MIA AUC | gap | wall s | targets missed |',
        '|---|---|---|---|---|---|---|---|---|']
    for r in result['rows']:
        name = f"**{r['setting']}**" if r['setting'] == result['chosen'] else r['setting']
        options = ', '.join(f'`{k}={v}`' for k, v in r['options'].items()) or '(the config as it is)'
        lines.append(f"| {name} | {options} | {fmt(r['camera_forget'])} | {fmt(r['fusion_retain'])} | "
                     f"{fmt(r['fusion_val_other'])} | {fmt(r['membership'])} | {fmt(r['gap'])} | "
                     f"{fmt(r['wall_time_s'])} | {', '.join(r['targets_missed']) or 'none'} |")
    lines += ['', f"Chosen: {result['chosen'] or 'none (no setting had a gap to a retrain)'}."]
    return '\n'.join(lines) + '\n'


