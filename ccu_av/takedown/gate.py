"""The verification gate: may an unlearned model be published?

A production takedown has no visual retrain to compare with, so every check uses only the model
before the run (the published one), the model after it, and data both can be evaluated on: the
flagged samples, the retain samples, and validation samples (``val_same``: unseen samples of the
flagged locations; ``val_other``: of the untouched locations). Figures come from the run's
``report.json`` (``docs/report_schema.md``). The thresholds are the config's ``takedown.gate``;
``docs/takedown.md`` says how each default was chosen on the development takedown and how often
the gate agrees with the retrain-based judgement on the benchmark takedowns.

Checks (each measured value and limit goes into the audit record):

- ``camera_drop_min`` / ``camera_drop_max``: how much of the flagged samples' camera advantage
  the run removed. The advantage of a model is its camera-only mAP on the flagged samples minus
  that on ``val_same``; the drop is the advantage before minus after. Differencing removes what
  the flagged footage is like: footage that is easier or harder than unseen footage of the same
  places stays so in both models, while what a model learned from the flagged footage itself is
  in its advantage. A model that forgot nothing has a drop of 0 (below min); one blinded on the
  flagged samples alone has a drop far beyond what a model that never trained on them shows
  (above max), which itself tells an observer what was removed.
- ``camera_retain_min``: camera-only mAP after / before on the retain samples: where the retain
  scenes carry the flagged places' look, the camera must keep it.
- ``radar_retention_min``: radar-only mAP after / before, on the flagged and on the retain
  samples (the lower): the radar branch's knowledge is not to be forgotten.
- ``fusion_retain_min`` / ``fusion_val_other_min``: fusion mAP after / before on the retain
  samples and on ``val_other``: accuracy elsewhere kept.
- ``membership_auc_max``: the camera membership attack's AUC of flagged against ``val_same``
  samples, after: it must not tell the flagged samples from unseen ones as training members.
"""
from dataclasses import asdict, dataclass
from typing import Dict, List, Mapping, Optional

# ccu_av.benchmark.gate_thresholds_from_retrains on the development takedown's record (its original
# and its two visual retrains only; docs/takedown.md gives the rule, the figures and the agreement)
GATE_DEFAULTS = dict(camera_drop_min=0.025, camera_drop_max=0.12, camera_retain_min=0.894, radar_retention_min=0.88,
                     fusion_retain_min=0.907, fusion_val_other_min=0.916, membership_auc_max=0.55)


@dataclass(frozen=True)
class GateCheck:
    """One check: the measured value against its limit."""
    name: str
    measured: Optional[float]
    limit: float
    bound: str  # 'max' or 'min'
    passed: bool
    what: str


def check_thresholds(thresholds: Mapping[str, float], source: str = 'takedown.gate') -> Dict[str, float]:
    """The gate's thresholds, the defaults filled in; an unknown key or a non-number is an error."""
    unknown = sorted(set(thresholds) - set(GATE_DEFAULTS))
    if unknown:
        raise ValueError(f'{source}: unknown thresholds {unknown}; the gate has {sorted(GATE_DEFAULTS)}')
    out = dict(GATE_DEFAULTS)
    for key, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{source}.{key} must be a number, got {value!r}')
        out[key] = float(value)
    if out['camera_drop_min'] > out['camera_drop_max']:
        raise ValueError(f'{source}: camera_drop_min {out["camera_drop_min"]} exceeds '
                         f'camera_drop_max {out["camera_drop_max"]}')
    return out


def retention(after: float, before: float) -> float:
    """after / before, 1 when both are 0 (nothing to lose)."""
    if before <= 0:
        return 1.0 if after >= before else 0.0
    return after / before


def gate_figures(report: Mapping, before: str, after: str) -> Dict[str, Optional[float]]:
    """What the gate measures of model ``after`` against ``before`` (module doc), one value per
    check (both camera-drop checks read the same drop); ``None`` where the report lacks a figure."""
    models = report['models']
    for name in (before, after):
        if name not in models:
            raise ValueError(f'the report has no model {name!r}; it has {sorted(models)}')

    def mAP(model: str, mode: str, subset: str) -> Optional[float]:
        entry = models[model]['figures'].get(mode, {}).get(subset)
        return None if entry is None else float(entry['mAP'])

    def ratio(mode: str, subset: str) -> Optional[float]:
        a, b = mAP(after, mode, subset), mAP(before, mode, subset)
        return None if a is None or b is None else retention(a, b)

    def advantage(model: str) -> Optional[float]:
        flagged, unseen = mAP(model, 'camera', 'forget'), mAP(model, 'camera', 'val_same')
        return None if flagged is None or unseen is None else flagged - unseen

    was, now = advantage(before), advantage(after)
    drop = None if was is None or now is None else was - now
    radar = [ratio('radar', s) for s in ('forget', 'retain')]
    return dict(camera_drop_min=drop, camera_drop_max=drop, camera_retain_min=ratio('camera', 'retain'),
                radar_retention_min=None if None in radar else min(radar),
                fusion_retain_min=ratio('fusion', 'retain'), fusion_val_other_min=ratio('fusion', 'val_other'),
                membership_auc_max=report.get('membership_inference', {}).get(after, {}).get(
                    'forget_vs_val_same_auc'))


WHAT = dict(
    camera_drop_min="the flagged samples' camera advantage over unseen samples of their locations, "
                    'before minus after (forgotten)',
    camera_drop_max='the same drop, from above (not blinded on the flagged samples alone)',
    camera_retain_min='camera-only mAP after / before on the retain samples',
    radar_retention_min='radar-only mAP after / before, the lower of flagged and retain samples',
    fusion_retain_min='fusion mAP after / before on the retain samples',
    fusion_val_other_min='fusion mAP after / before on the val_other samples',
    membership_auc_max='membership attack AUC, flagged against unseen samples of their locations')
# the checks of what must be kept (the retrain-based judgement's retention floors are on these)
RETENTION_CHECKS = ('camera_retain_min', 'radar_retention_min', 'fusion_retain_min', 'fusion_val_other_min')


def verification_gate(report: Mapping, before: str, after: str, thresholds: Mapping[str, float]) -> dict:
    """The gate's verdict on model ``after`` (the unlearned one) against ``before`` (the published
    one), both models of ``report``.

    Returns:
        ``{'passed': bool, 'checks': [GateCheck as dict], 'failed': [names]}``; a check whose
        figure the report lacks fails (the gate never passes what it could not measure).
    """
    limits = check_thresholds(thresholds)
    checks: List[GateCheck] = []
    for key, measured in gate_figures(report, before, after).items():
        limit, bound = limits[key], key.rsplit('_', 1)[1]
        ok = measured is not None and (measured <= limit if bound == 'max' else measured >= limit)
        checks.append(GateCheck(name=key, measured=measured, limit=limit, bound=bound, passed=ok, what=WHAT[key]))
    failed = [c.name for c in checks if not c.passed]
    return dict(passed=not failed, failed=failed, checks=[asdict(c) for c in checks])


def describe_verdict(verdict: Mapping) -> str:
    """One line: passed, or which checks failed with their values."""
    if verdict['passed']:
        return 'passed every check'
    parts = []
    for check in verdict['checks']:
        if not check['passed']:
            value = 'not measured' if check['measured'] is None else f'{check["measured"]:.3f}'
            parts.append(f'{check["name"]} {value} (limit {check["bound"]} {check["limit"]:.3f})')
    return 'failed ' + '; '.join(parts)
