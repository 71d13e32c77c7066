"""The unlearning report: figures of every model on every set and mode, derived figures, and
``report.json`` (schema in docs/report_schema.md), ``report.md`` and ``report.png``.

The figures come from prediction dicts (nuScenes submission format, one per model and mode)
through :class:`NuScenesSubsetEvaluator`, so the report never re-runs a model; predictions come
from the detector or from :class:`PredictionCache`.
"""
import hashlib
import importlib.metadata
import json
import math
import os
import os.path as osp
import re
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Sequence

from mmengine.logging import MMLogger

from ..utils import code_version, write_json_atomic
from .nusc_subset_eval import NuScenesSubsetEvaluator, Predictions, SetSpec, flatten_metrics
from .prediction_cache import FigureCache, token_set_sha256

SCHEMA_VERSION = 1
SETS = ('forget', 'retain', 'val')
MODES = ('fusion', 'camera', 'radar')
ROLES = ('original', 'unlearned', 'visual_retrain', 'full_retrain')
HEADLINE = ('mAP', 'NDS')

# model name -> mode -> set name -> flat figures (mAP, NDS, mATE..., AP_<class>, <class>_<tp error>)
Figures = Dict[str, Dict[str, Dict[str, Dict[str, float]]]]


def evaluate_models(evaluator: NuScenesSubsetEvaluator,
                    predictions: Mapping[str, Mapping[str, Predictions]],
                    sets: Mapping[str, List[str]], cache_dir: Optional[str] = None) -> Figures:
    """Figures of each model (name -> mode -> predictions) on each set (name -> sample tokens).

    With ``cache_dir`` (a prediction cache's root), each set's figures are kept in a
    :class:`FigureCache` there and read back wherever the same predictions are scored on the
    same samples again (:class:`FigureKeys`).
    """
    figure_keys = FigureKeys(evaluator, FigureCache(cache_dir)) if cache_dir else None
    figures: Figures = {}
    for model, by_mode in predictions.items():
        figures[model] = {}
        for mode, model_predictions in by_mode.items():
            try:
                figures[model][mode] = _figures_on_sets(evaluator, model_predictions, sets, figure_keys)
            except ValueError as error:
                raise ValueError(f'model {model!r}, mode {mode!r}: {error}') from error
    return figures


class FigureKeys:
    """The :class:`FigureCache` of one :func:`evaluate_models` call, with what its keys share
    computed once: the code version, the devkit's version, the evaluation config and each
    sample's ground-truth digest."""

    def __init__(self, evaluator: NuScenesSubsetEvaluator, cache: FigureCache):
        self.evaluator, self.cache = evaluator, cache
        self.context = dict(code=code_version(), devkit=importlib.metadata.version('nuscenes-devkit'),
                            config=evaluator.config.serialize())
        self._truth: Dict[str, str] = {}

    def key(self, prediction_digests: Mapping[str, str], tokens: Sequence[str]) -> str:
        """sha256 of everything a set's figures follow from: the samples in their order (the devkit
        breaks score ties by it), their predictions' and centred, filtered ground truth's digests
        (:func:`boxes_digest`), and the context above."""
        missing = [token for token in tokens if token not in self._truth]
        if missing:
            truth = self.evaluator.ground_truth(missing)
            self._truth.update({t: boxes_digest([box.serialize() for box in truth[t]]) for t in missing})
        described = dict(self.context, tokens=list(tokens), predictions=[prediction_digests[t] for t in tokens],
                         truth=[self._truth[t] for t in tokens])
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def boxes_digest(boxes: Sequence[dict]) -> str:
    """sha256 of one sample's boxes (predictions or serialized ground truth)."""
    return hashlib.sha256(json.dumps(boxes, sort_keys=True, default=_plain).encode()).hexdigest()


def _plain(value):
    """A numpy array or scalar of a box (the centred ground truth holds them) as JSON-able Python."""
    return value.tolist() if hasattr(value, 'tolist') else float(value)


def _figures_on_sets(evaluator: NuScenesSubsetEvaluator, predictions: Predictions,
                     sets: Mapping[str, Optional[SetSpec]], figure_keys: Optional[FigureKeys]
                     ) -> Dict[str, Dict[str, Optional[float]]]:
    """One model's figures in one mode on every set, from the figure cache where it has them."""
    keys, out, digests = {}, {}, {}
    if figure_keys is not None:
        for name, spec in sets.items():
            tokens = list(predictions) if spec is None else evaluator.resolve(spec, name)
            if all(token in predictions for token in tokens):  # else evaluate_sets names what is missing
                digests.update({t: boxes_digest(predictions[t]) for t in tokens if t not in digests})
                keys[name] = figure_keys.key(digests, tokens)
                out[name] = figure_keys.cache.get(keys[name])
    todo = {name: spec for name, spec in sets.items() if out.get(name) is None}
    for name, metrics in (evaluator.evaluate_sets(predictions, todo) if todo else {}).items():
        # NaN (a TP error the devkit leaves undefined, e.g. a cone's orientation) -> None
        out[name] = {k: None if math.isnan(v) else v for k, v in flatten_metrics(metrics).items()}
        if name in keys:
            figure_keys.cache.put(keys[name], out[name])
    if figure_keys is not None and len(todo) < len(sets):
        MMLogger.get_current_instance().info(
            f'nuScenes figures on {sorted(set(sets) - set(todo))} read from the figure cache')
    return {name: out[name] for name in sets}


def resolve_sets(evaluator: NuScenesSubsetEvaluator,
                 sets: Mapping[str, SetSpec]) -> Dict[str, List[str]]:
    """Sample tokens of the report's sets; each of forget/retain/val must be named and non-empty."""
    missing = [name for name in SETS if name not in sets]
    if missing:
        raise ValueError(f'the report needs the sets {SETS}; missing {missing}')
    return {name: evaluator.resolve(spec, name) for name, spec in sets.items()}


def build_report(figures: Figures, models: Mapping[str, dict], sets: Mapping[str, List[str]],
                 dataset: dict, config: dict, membership_inference: Optional[dict] = None,
                 wall_times_s: Optional[Dict[str, float]] = None) -> dict:
    """The report as a JSON-ready dict (docs/report_schema.md).

    Args:
        figures: from :func:`evaluate_models`.
        models: name -> ``{'role': one of ROLES, 'checkpoint_sha256': str,
            'wall_time_s': seconds to produce the model or None}``; exactly one ``original``.
        sets: set name -> sample tokens (forget, retain, val at least).
        dataset: ``{'data_root', 'version', 'eval_config'}``.
        config: ``{'path', 'sha256'}`` of the configuration that produced the models.
        membership_inference: model name -> ``{'auc', 'forget_member_rate', ...}``.
        wall_times_s: other wall times (e.g. ``evaluation``, ``report``).
    """
    _check_models(figures, models, sets)
    _check_membership(membership_inference or {}, models)
    report = dict(
        schema='ccu_av.unlearning_report', schema_version=SCHEMA_VERSION,
        created_utc=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        dataset=dict(dataset), config=dict(config),
        sets={name: dict(num_samples=len(tokens), tokens_sha256=token_set_sha256(tokens))
              for name, tokens in sets.items()},
        modes=list(MODES),
        models={name: dict(role=meta['role'], checkpoint_sha256=meta['checkpoint_sha256'],
                           wall_time_s=meta.get('wall_time_s'), figures=figures[name])
                for name, meta in models.items()},
        membership_inference=dict(membership_inference or {}),
        wall_times_s=dict(wall_times_s or {}))
    report['derived'] = derive(report['models'])
    return report


def derive(models: Mapping[str, dict]) -> Dict[str, dict]:
    """Derived figures of every ``unlearned`` model against the ``original`` (and the
    ``visual_retrain`` models when present: their mean, one per training seed); a ratio with a
    zero denominator is None."""
    original = _by_role(models, 'original')[0]
    visual = _by_role(models, 'visual_retrain')
    derived = {}
    for name in _by_role(models, 'unlearned'):
        before, after = models[original]['figures'], models[name]['figures']
        entry = dict(
            camera_forget_map_drop=before['camera']['forget']['mAP'] - after['camera']['forget']['mAP'],
            radar_forget_retention=_ratio(after['radar']['forget']['mAP'],
                                          before['radar']['forget']['mAP']))
        for set_name in ('retain', 'val'):
            for figure in HEADLINE:
                entry[f'fusion_{set_name}_{figure.lower()}_ratio'] = _ratio(
                    after['fusion'][set_name][figure], before['fusion'][set_name][figure])
        entry['mean_abs_gap_to_visual_retrain'] = None
        entry['time_vs_visual_retrain'] = None
        if visual:  # against the mean of the visual retrains (one per training seed)
            gaps = [abs(after[mode][set_name][figure]
                        - sum(models[v]['figures'][mode][set_name][figure] for v in visual) / len(visual))
                    for mode in MODES for set_name in SETS for figure in HEADLINE]
            entry['mean_abs_gap_to_visual_retrain'] = sum(gaps) / len(gaps)
            walls = [models[v].get('wall_time_s') for v in visual]
            if models[name].get('wall_time_s') is not None and all(walls):
                entry['time_vs_visual_retrain'] = models[name]['wall_time_s'] / (sum(walls) / len(walls))
        derived[name] = entry
    return derived


def render_markdown(report: dict) -> str:
    """The tables a person reads: mAP / NDS per mode, derived figures, membership inference."""
    lines = ['# Unlearning report', '',
             f"Dataset `{report['dataset'].get('version')}` at `{report['dataset'].get('data_root')}`; "
             f"config `{report['config'].get('path')}` (sha256 `{str(report['config'].get('sha256'))[:12]}`).",
             '', '| set | samples |', '|---|---|']
    lines += [f"| {name} | {s['num_samples']} |" for name, s in report['sets'].items()]
    set_names = list(report['sets'])
    for mode in report['modes']:
        lines += ['', f'## {mode} mode (mAP / NDS)', '',
                  '| model | role | ' + ' | '.join(set_names) + ' |',
                  '|---|---|' + '---|' * len(set_names)]
        for name, model in report['models'].items():
            cells = [f"{model['figures'][mode][s]['mAP']:.4f} / {model['figures'][mode][s]['NDS']:.4f}"
                     for s in set_names]
            lines.append(f"| {name} | {model['role']} | " + ' | '.join(cells) + ' |')
    if report['derived']:
        keys = list(next(iter(report['derived'].values())))
        lines += ['', '## Derived figures', '', '| model | ' + ' | '.join(keys) + ' |',
                  '|---|' + '---|' * len(keys)]
        for name, entry in report['derived'].items():
            lines.append(f'| {name} | ' + ' | '.join(_cell(entry[k]) for k in keys) + ' |')
    if report['membership_inference']:
        lines += ['', '## Membership inference (camera branch)', '', '| model | figure | value |',
                  '|---|---|---|']
        for name, entry in report['membership_inference'].items():
            lines += [f'| {name} | {k} | {_cell(v)} |' for k, v in entry.items()]
    lines += ['', '## Models', '', '| model | role | checkpoint sha256 | wall time (s) |',
              '|---|---|---|---|']
    for name, model in report['models'].items():
        lines.append(f"| {name} | {model['role']} | `{model['checkpoint_sha256'][:12]}` | "
                     f"{_cell(model['wall_time_s'])} |")
    return '\n'.join(lines) + '\n'


def plot_report(report: dict, path: str) -> None:
    """A PNG of mAP per set (groups) and model (bars), one panel per mode."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    set_names, models = list(report['sets']), list(report['models'])
    fig, axes = plt.subplots(1, len(report['modes']), figsize=(4.5 * len(report['modes']), 4.0),
                             sharey=True)
    width = 0.8 / len(models)
    for ax, mode in zip(axes, report['modes']):
        for i, name in enumerate(models):
            values = [report['models'][name]['figures'][mode][s]['mAP'] for s in set_names]
            ax.bar([j + (i - (len(models) - 1) / 2) * width for j in range(len(set_names))],
                   values, width, label=name)
        ax.set_xticks(range(len(set_names)), set_names)
        ax.set_title(f'{mode} mode')
        ax.set_ylim(0, 1)
    axes[0].set_ylabel('nuScenes mAP')
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=len(models), fontsize='small')
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, format='png', dpi=100)
    plt.close(fig)


def write_report(report: dict, out_dir: str) -> Dict[str, str]:
    """Write report.json, report.md and report.png into ``out_dir``.

    All three are rendered under temporary names first and renamed into place only when all
    succeeded, so a failure leaves no partial report.
    """
    os.makedirs(out_dir, exist_ok=True)
    final = {'json': 'report.json', 'md': 'report.md', 'png': 'report.png'}
    tmp_dir = tempfile.mkdtemp(dir=out_dir, prefix='.tmp_report_')
    try:
        tmp = {kind: osp.join(tmp_dir, name) for kind, name in final.items()}
        write_json_atomic(tmp['json'], report)
        with open(tmp['md'], 'w') as f:
            f.write(render_markdown(report))
        plot_report(report, tmp['png'])
        paths = {}
        for kind, name in final.items():
            paths[kind] = osp.join(out_dir, name)
            os.replace(tmp[kind], paths[kind])
    finally:
        for name in os.listdir(tmp_dir):
            os.unlink(osp.join(tmp_dir, name))
        os.rmdir(tmp_dir)
    MMLogger.get_current_instance().info(f'report written to {out_dir}')
    return paths


def _check_models(figures: Figures, models: Mapping[str, dict], sets: Mapping[str, Sequence[str]]):
    """ValueError naming the model, role, mode or set that the report cannot be built without."""
    for name, meta in models.items():
        if meta.get('role') not in ROLES:
            raise ValueError(f'model {name!r}: role must be one of {ROLES}, got {meta.get("role")!r}')
        sha = meta.get('checkpoint_sha256')
        if not isinstance(sha, str) or not re.fullmatch(r'[0-9a-f]{64}', sha):
            raise ValueError(f'model {name!r}: checkpoint_sha256 must be 64 hex digits, got {sha!r}')
        for mode in MODES:
            for set_name in sets:
                if set_name not in figures.get(name, {}).get(mode, {}):
                    raise ValueError(f'model {name!r}: no figures for mode {mode!r} on set {set_name!r}')
    if len(_by_role(models, 'original')) != 1:
        raise ValueError('the report needs exactly one model with role original')
    if len(_by_role(models, 'full_retrain')) > 1:
        raise ValueError('at most one model may have role full_retrain')
    missing = [name for name in SETS if name not in sets]
    if missing:
        raise ValueError(f'the report needs the sets {SETS}; missing {missing}')
    empty = [name for name, tokens in sets.items() if not len(tokens)]
    if empty:
        raise ValueError(f'the report\'s sets {empty} are empty: every set needs samples')


def _check_membership(membership_inference: Mapping[str, dict], models: Mapping[str, dict]) -> None:
    """ValueError for a membership entry of an unknown model, without ``auc`` and
    ``forget_member_rate`` in [0, 1], or with a NaN or infinite figure."""
    for name, entry in membership_inference.items():
        if name not in models:
            raise ValueError(f'membership_inference names model {name!r}, which is not among the '
                             f'report\'s models {list(models)}')
        for key in ('auc', 'forget_member_rate'):
            value = entry.get(key)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f'membership_inference of {name!r}: {key} must be a number in '
                                 f'[0, 1], got {value!r}')
        for key, value in entry.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f'membership_inference of {name!r}: {key} is {value}')


def _by_role(models: Mapping[str, dict], role: str) -> List[str]:
    return [name for name, meta in models.items() if meta['role'] == role]


def _ratio(numerator: float, denominator: float) -> Optional[float]:
    return numerator / denominator if denominator else None


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{value:.4f}' if isinstance(value, float) else str(value)
