"""The suite's table: per takedown, the original, the method and every visual retrain seed, with
the figures issue 14 sets targets on, and whether the method meets each.

The reference of a figure is the mean over the retrain seeds; its spread the seeds' sample
standard deviation (with two seeds: |a - b| / sqrt 2). Targets (the method against them):

- ``camera_forget``: camera-only mAP on forget within max(0.03, 2 x spread) of the reference
  (either direction: over-forgetting is a gap too);
- ``fusion_forget``: fusion mAP on forget within 0.03 of the reference;
- ``radar_forget``: radar-only mAP on forget at least 98% of the original's;
- ``fusion_retain``, ``fusion_val_other``: fusion mAP at least 98% of the original's;
- ``membership``: the attack's forget-vs-validation AUC within 0.05 of the reference (against the
  validation samples of the forget set's locations where there are any);
- ``time``: the method's wall time at most 5% of the first retrain's.
"""
import csv
import io
import json
import math
from typing import Dict, List, Optional, Sequence

RETENTION_SLACK = 0.01  # the retrain-based judgement's retention floor: the lowest seed's ratio less this
MEMBERSHIP_TOLERANCE = 0.05  # the membership target: the attack's AUC within this of the retrains' mean
CHANCE_AUC = 0.5  # an attack that cannot tell flagged from unseen samples
COLUMNS = (
    ('camera_forget', 'cam mAP forget'), ('radar_forget', 'radar mAP forget'),
    ('fusion_forget', 'fusion mAP forget'), ('fusion_retain', 'fusion mAP retain'),
    ('fusion_retain_nds', 'fusion NDS retain'), ('fusion_val_other', 'fusion mAP val-other'),
    ('fusion_val_other_nds', 'fusion NDS val-other'), ('membership', 'MIA AUC forget/val'),
    ('mean_abs_gap', 'mean abs gap'), ('wall_time_s', 'wall s'), ('time_ratio', 'time / retrains\' mean'))


def model_figures(report: dict, name: str) -> Dict[str, Optional[float]]:
    """The table's figures of model ``name`` of a report (report.json's content); the mean
    absolute gap to the visual retrains and the time against their mean (the report's ``derived``
    figures: the search's criterion, and the time the report states; the ``time`` target is
    against the first seed's) only for an unlearned model, None for the others."""
    fig = report['models'][name]['figures']
    attack = report.get('membership_inference', {}).get(name, {})
    derived = report.get('derived', {}).get(name, {})
    return dict(
        camera_forget=fig['camera']['forget']['mAP'], radar_forget=fig['radar']['forget']['mAP'],
        fusion_forget=fig['fusion']['forget']['mAP'], fusion_retain=fig['fusion']['retain']['mAP'],
        fusion_retain_nds=fig['fusion']['retain']['NDS'],
        fusion_val_other=fig['fusion']['val_other']['mAP'],
        fusion_val_other_nds=fig['fusion']['val_other']['NDS'],
        membership=attack.get('forget_vs_val_same_auc', attack.get('forget_vs_val_auc')),
        mean_abs_gap=derived.get('mean_abs_gap_to_visual_retrain'),
        wall_time_s=report['models'][name].get('wall_time_s'),
        time_ratio=derived.get('time_vs_visual_retrain'))


def _mean_std(values: Sequence[float]):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def targets(method: Dict[str, float], original: Dict[str, float],
            references: Sequence[Dict[str, float]]) -> Dict[str, dict]:
    """Each target (module doc): ``value`` (the method's measured gap or ratio), ``limit`` and
    ``met``."""
    ref = {k: _mean_std([r[k] for r in references if r[k] is not None]) for k in
           ('camera_forget', 'fusion_forget', 'membership')}
    out = {}
    mean, spread = ref['camera_forget']
    out['camera_forget'] = dict(value=method['camera_forget'] - mean, limit=max(0.03, 2 * (spread or 0.0)),
                                spread=spread)
    out['fusion_forget'] = dict(value=method['fusion_forget'] - ref['fusion_forget'][0], limit=0.03)
    if method['membership'] is not None and ref['membership'][0] is not None:
        out['membership'] = dict(value=method['membership'] - ref['membership'][0], limit=MEMBERSHIP_TOLERANCE)
    for key in ('camera_forget', 'fusion_forget', 'membership'):
        if key in out:
            out[key]['met'] = abs(out[key]['value']) <= out[key]['limit']
    for key in ('radar_forget', 'fusion_retain', 'fusion_val_other'):
        ratio = method[key] / original[key] if original[key] else None
        out[key] = dict(value=ratio, limit=0.98, met=ratio is not None and ratio >= 0.98)
    first = references[0].get('wall_time_s')
    if method.get('wall_time_s') is not None and first:
        ratio = method['wall_time_s'] / first
        out['time'] = dict(value=ratio, limit=0.05, met=ratio <= 0.05)
    return out


def takedown_rows(record: dict) -> List[dict]:
    """The rows of one takedown record (``run.run_takedown``'s): original, method, retrains, and
    the relearning curves."""
    with open(record['report']) as f:
        report = json.load(f)
    rows = []
    for name, model in record['models'].items():
        row = dict(takedown=record['takedown']['name'], kind=record['takedown']['kind'],
                   role=record['takedown']['role'], model=name, model_role=model['role'],
                   **model_figures(report, name))
        curve = record.get('relearn', {}).get(name)
        row['relearn'] = curve
        rows.append(row)
    method = next(r for r in rows if r['model_role'] == 'unlearned')
    original = next(r for r in rows if r['model_role'] == 'original')
    references = [r for r in rows if r['model_role'] == 'visual_retrain']
    method['targets'] = targets(method, original, references)
    return rows


def _record_models(record: dict):
    """A takedown record's report (report.json's content), its original's name and its retrains'."""
    with open(record['report']) as f:
        report = json.load(f)
    names = list(record['models'])
    original = next(n for n in names if record['models'][n]['role'] == 'original')
    return report, original, [n for n in names if record['models'][n]['role'] == 'visual_retrain']


def gate_rows(record: dict, thresholds: Optional[Dict[str, float]] = None) -> List[dict]:
    """The fleet's verification gate (``ccu_av.takedown.gate``, which reads no retrain) on every
    model of a takedown record against the original, beside the retrain-based judgement.

    The judgement passes a model that forgot like the retrains (its camera-only forget mAP and
    membership AUC within the targets' tolerance of the seeds' mean, module doc) and kept as
    much as they did: on each of the gate's retention figures (``RETENTION_CHECKS``: camera-only
    mAP after / before on retain; radar-only, the lower of forget and retain; fusion on retain and
    on val_other) at least the lowest retrain seed's ratio less ``RETENTION_SLACK``. A retrain seed
    is judged against the mean of all seeds, itself included.

    Returns:
        One row per model: ``takedown``, ``model``, ``gate`` (passed), ``failed`` (check names),
        ``judgement`` (retrain-based), ``why`` (what the judgement failed on), ``agree``.
    """
    from ..takedown.gate import GATE_DEFAULTS, RETENTION_CHECKS, verification_gate
    report, original, retrains = _record_models(record)
    names = list(record['models'])
    figures = {n: model_figures(report, n) for n in names}
    verdicts = {n: verification_gate(report, original, n, thresholds or GATE_DEFAULTS) for n in names}
    retention = {n: {c['name']: c['measured'] for c in v['checks'] if c['name'] in RETENTION_CHECKS}
                 for n, v in verdicts.items()}
    floor = {k: min(retention[r][k] for r in retrains) - RETENTION_SLACK for k in retention[original]}
    rows = []
    for name in names:
        judged = targets(figures[name], figures[original], [figures[r] for r in retrains])
        why = [k for k in ('camera_forget', 'membership') if k in judged and not judged[k]['met']]
        why += [k for k, value in retention[name].items() if value < floor[k]]
        verdict = verdicts[name]
        rows.append(dict(takedown=record['takedown']['name'], model=name, gate=verdict['passed'],
                         failed=verdict['failed'], judgement=not why, why=why,
                         agree=verdict['passed'] == (not why)))
    return rows


def gate_thresholds_from_retrains(record: dict) -> Dict[str, float]:
    """The gate's thresholds by one rule from a (development) takedown record's visual retrains,
    each judged against the original as the gate would judge it (docs/takedown.md):

    - ``camera_drop_min``: half the smallest retrain's drop; ``camera_drop_max``: twice the largest;
    - each retention floor (``RETENTION_CHECKS``): the lowest retrain's ratio less ``RETENTION_SLACK``
      (the judgement's floor);
    - ``membership_auc_max``: the higher of chance (0.5) and the highest retrain's AUC, plus
      ``MEMBERSHIP_TOLERANCE``. Without the floor a development takedown whose footage is novel
      (its retrains' flagged samples look *less* like members than unseen ones, AUC < 0.5) would
      set a limit below chance, which a model that never saw ordinary footage fails.

    Values are rounded to 3 decimals. Only the retrains and the original are read.
    """
    from ..takedown.gate import RETENTION_CHECKS, gate_figures
    report, original, retrains = _record_models(record)
    figures = [gate_figures(report, original, n) for n in retrains]
    if not figures:
        raise ValueError(f'the record of {record["takedown"]["name"]} has no visual retrain')
    drops = [f['camera_drop_min'] for f in figures]
    out = dict(camera_drop_min=0.5 * min(drops), camera_drop_max=2.0 * max(drops),
               membership_auc_max=max(CHANCE_AUC, *(f['membership_auc_max'] for f in figures)) + MEMBERSHIP_TOLERANCE)
    out.update({k: min(f[k] for f in figures) - RETENTION_SLACK for k in RETENTION_CHECKS})
    return {k: round(v, 3) for k, v in out.items()}


def render_gate_markdown(rows: Sequence[dict]) -> str:
    """The gate-versus-retrain table, Markdown."""
    lines = ['| takedown | model | gate | gate failed on | retrain-based judgement | judgement failed on | agree |',
             '|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append(f"| {row['takedown']} | {row['model']} | {'pass' if row['gate'] else 'fail'} | "
                     f"{', '.join(row['failed']) or '-'} | {'pass' if row['judgement'] else 'fail'} | "
                     f"{', '.join(row['why']) or '-'} | {'yes' if row['agree'] else '**no**'} |")
    return '\n'.join(lines) + '\n'


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.0f}' if abs(value) >= 100 else f'{value:.{digits}f}'
    return str(value)


def render_markdown(rows: Sequence[dict]) -> str:
    """The figures table and the targets table, Markdown."""
    lines = ['| takedown | model | ' + ' | '.join(title for _, title in COLUMNS) + ' | relearn cam mAP (iters) |',
             '|---' * (len(COLUMNS) + 3) + '|']
    for row in rows:
        curve = row.get('relearn')
        relearn = ', '.join(f'{k}: {v:.3f}' for k, v in curve.items()) if curve else '-'
        lines.append(f"| {row['takedown']} | {row['model']} | "
                     + ' | '.join(_fmt(row[key]) for key, _ in COLUMNS) + f' | {relearn} |')
    lines += ['', '| takedown | model | target | value | limit | met |', '|---|---|---|---|---|---|']
    for row in rows:
        for name, target in (row.get('targets') or {}).items():
            lines.append(f"| {row['takedown']} | {row['model']} | {name} | {_fmt(target['value'])} | "
                         f"{_fmt(target['limit'])} | {'yes' if target['met'] else '**no**'} |")
    return '\n'.join(lines) + '\n'


def render_csv(rows: Sequence[dict]) -> str:
    """One line per takedown and model: the figures, then each target's value and verdict."""
    names = ('camera_forget', 'fusion_forget', 'radar_forget', 'fusion_retain', 'fusion_val_other',
             'membership', 'time')
    header = (['takedown', 'kind', 'role', 'model', 'model_role'] + [k for k, _ in COLUMNS]
              + [f'target_{n}_{part}' for n in names for part in ('value', 'met')])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        t = row.get('targets') or {}
        writer.writerow([row[k] for k in ('takedown', 'kind', 'role', 'model', 'model_role')]
                        + [row[k] for k, _ in COLUMNS]
                        + [v for n in names for v in ((t[n]['value'], t[n]['met']) if n in t else ('', ''))])
    return buffer.getvalue()


def plot_suite(rows: Sequence[dict], path: str) -> None:
    """Camera-only and fusion mAP on the forget set per takedown and model (the retrains as their
    seeds' mean with the seeds' range), written atomically to ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from ..utils import atomic_write

    takedowns = list(dict.fromkeys(r['takedown'] for r in rows))
    models = list(dict.fromkeys(r['model'] if r['model_role'] != 'visual_retrain' else 'visual retrain'
                                for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(4 + 2.2 * len(takedowns), 3.6), squeeze=False)
    width = 0.8 / max(len(models), 1)
    for ax, key, title in zip(axes[0], ('camera_forget', 'fusion_forget'),
                              ('camera-only mAP, forget', 'fusion mAP, forget')):
        for m, model in enumerate(models):
            values, low, high = [], [], []
            for takedown in takedowns:
                group = [r[key] for r in rows if r['takedown'] == takedown and
                         (r['model'] == model or (model == 'visual retrain' and r['model_role'] == 'visual_retrain'))]
                mean = sum(group) / len(group) if group else float('nan')
                values.append(mean)
                low.append(mean - min(group) if group else 0.0)
                high.append(max(group) - mean if group else 0.0)
            xs = [t + (m - (len(models) - 1) / 2) * width for t in range(len(takedowns))]
            ax.bar(xs, values, width, yerr=[low, high], capsize=2, label=model)
        ax.set_xticks(range(len(takedowns)))
        ax.set_xticklabels(takedowns, rotation=20, fontsize=8)
        ax.set_title(title)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=110)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())
