"""The verification gate: may an unlearned model be published?

A production takedown has no visual retrain to compare with, so every check uses only the model
before the run (the published one), the model after it, and data both can be evaluated on: the
flagged samples, the retain samples, and validation samples (``val_same``: unseen samples of the
flagged locations; ``val_other``: of the untouched locations). Figures come from the run's
``report.json`` (``docs/report_schema.md``). The thresholds are the config's ``takedown.gate``;
``docs/takedown.md`` says how each default was chosen on the development takedown and how often
the gate agrees with the retrain-based judgement on the benchmark takedowns.

Checks (each measured value and limit goes into the audit record):

- ``camera_forget_gap_max`` / ``camera_forget_gap_min``: camera-only mAP on the flagged samples
  minus that on ``val_same``, after the run. A model that still knows the flagged footage is
  better on it than on unseen footage of the same places (gap > max); one that is much worse
  there (gap < min) was blinded on them, which itself tells an observer what was removed.
- ``radar_retention_min``: radar-only mAP after / before, on the flagged and on the retain
  samples (the lower): the radar branch's knowledge is not to be forgotten.
- ``fusion_retain_min`` / ``fusion_val_other_min``: fusion mAP after / before on the retain
  samples and on ``val_other``: accuracy elsewhere kept.
- ``membership_auc_max``: the camera membership attack's AUC of flagged against ``val_same``
  samples, after: it must not tell the flagged samples from unseen ones as training members.
"""
from dataclasses import asdict, dataclass
from typing import Dict, List, Mapping, Optional

# chosen on the development takedown (docs/takedown.md: the visual retrains' own figures there,
# and the gate's agreement with the retrain-based judgement on the reported takedowns)
GATE_DEFAULTS = dict(camera_forget_gap_max=0.0, camera_forget_gap_min=-0.08, radar_retention_min=0.95,
                     fusion_retain_min=0.97, fusion_val_other_min=0.92, membership_auc_max=0.45)


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
    if out['camera_forget_gap_min'] > out['camera_forget_gap_max']:
        raise ValueError(f'{source}: camera_forget_gap_min {out["camera_forget_gap_min"]} exceeds '
                         f'camera_forget_gap_max {out["camera_forget_gap_max"]}')
    return out


def retention(after: float, before: float) -> float:
    """after / before, 1 when both are 0 (nothing to lose)."""
    if before <= 0:
        return 1.0 if after >= before else 0.0
    return after / before


def verification_gate(report: Mapping, before: str, after: str, thresholds: Mapping[str, float]) -> dict:
    """The gate's verdict on model ``after`` (the unlearned one) against ``before`` (the published
    one), both models of ``report``.

    Returns:
        ``{'passed': bool, 'checks': [GateCheck as dict], 'failed': [names]}``; a check whose
        figure the report lacks fails (the gate never passes what it could not measure).
    """
    limits = check_thresholds(thresholds)
    models = report['models']
    for name in (before, after):
        if name not in models:
            raise ValueError(f'the report has no model {name!r}; it has {sorted(models)}')

    def mAP(model: str, mode: str, subset: str) -> Optional[float]:
        entry = models[model]['figures'].get(mode, {}).get(subset)
        return None if entry is None else float(entry['mAP'])

    checks: List[GateCheck] = []

    def add(measured: Optional[float], key: str, what: str) -> None:
        limit, bound = limits[key], key.rsplit('_', 1)[1]
        ok = measured is not None and (measured <= limit if bound == 'max' else measured >= limit)
        checks.append(GateCheck(name=key, measured=measured, limit=limit, bound=bound, passed=ok, what=what))

    cam_forget, cam_unseen = mAP(after, 'camera', 'forget'), mAP(after, 'camera', 'val_same')
    gap = None if cam_forget is None or cam_unseen is None else cam_forget - cam_unseen
    add(gap, 'camera_forget_gap_max', 'camera mAP on the flagged samples minus on unseen samples of their locations')
    add(gap, 'camera_forget_gap_min', 'the same gap, from below (not blinded on the flagged samples)')
    radar = [retention(mAP(after, 'radar', s), mAP(before, 'radar', s)) for s in ('forget', 'retain')
             if mAP(after, 'radar', s) is not None and mAP(before, 'radar', s) is not None]
    add(min(radar) if len(radar) == 2 else None, 'radar_retention_min',
        'radar-only mAP after / before, the lower of flagged and retain samples')
    for subset, key in (('retain', 'fusion_retain_min'), ('val_other', 'fusion_val_other_min')):
        a, b = mAP(after, 'fusion', subset), mAP(before, 'fusion', subset)
        add(None if a is None or b is None else retention(a, b), key,
            f'fusion mAP after / before on the {subset} samples')
    attack = report.get('membership_inference', {}).get(after, {})
    add(attack.get('forget_vs_val_same_auc'), 'membership_auc_max',
        'membership attack AUC, flagged against unseen samples of their locations')
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
