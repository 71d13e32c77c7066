"""The verification gate on hand-made report figures, and its agreement table."""
import json
from pathlib import Path

import pytest

from ccu_av.benchmark import gate_rows, gate_thresholds_from_retrains, render_gate_markdown
from ccu_av.takedown import GATE_DEFAULTS, describe_verdict, verification_gate
from ccu_av.takedown.gate import check_thresholds

SETS = ('forget', 'retain', 'val', 'val_other', 'val_same')
LIMITS = dict(camera_drop_min=0.05, camera_drop_max=0.2, camera_retain_min=0.95, radar_retention_min=0.95,
              fusion_retain_min=0.97, fusion_val_other_min=0.92, membership_auc_max=0.45)


def _model(role, camera, fusion, radar, nds=0.4):
    """figures[mode][set] from {set: mAP} per mode (sets not given: 0.3)."""
    figures = {}
    for mode, given in (('camera', camera), ('fusion', fusion), ('radar', radar)):
        figures[mode] = {s: dict(mAP=given.get(s, 0.3), NDS=nds) for s in SETS}
    return dict(role=role, figures=figures, wall_time_s=10.0)


def _report():
    """Before: knows the flagged footage (camera 0.40 there, 0.30 on unseen samples of its places)."""
    before = _model('original', dict(forget=0.40, val_same=0.30), dict(retain=0.50, val_other=0.45),
                    dict(forget=0.20, retain=0.20))
    good = _model('unlearned', dict(forget=0.27, val_same=0.30), dict(retain=0.495, val_other=0.44),
                  dict(forget=0.20, retain=0.20))
    blind = _model('unlearned', dict(forget=0.05, val_same=0.30), dict(retain=0.49, val_other=0.44),
                   dict(forget=0.20, retain=0.20))
    lossy = _model('unlearned', dict(forget=0.27, val_same=0.30), dict(retain=0.40, val_other=0.30),
                   dict(forget=0.15, retain=0.20))
    # forgot the flagged samples, but lost the camera on the retain samples of their places too
    everywhere = _model('unlearned', dict(forget=0.18, val_same=0.20, retain=0.24), dict(retain=0.495, val_other=0.44),
                        dict(forget=0.20, retain=0.20))
    attack = {name: dict(forget_vs_val_same_auc=auc) for name, auc in
              (('before', 0.6), ('good', 0.40), ('blind', 0.30), ('lossy', 0.40), ('everywhere', 0.40))}
    return dict(models=dict(before=before, good=good, blind=blind, lossy=lossy, everywhere=everywhere),
                membership_inference=attack)


def test_the_gate_passes_forgetting_that_keeps_the_rest_and_names_what_fails():
    report = _report()
    good = verification_gate(report, 'before', 'good', LIMITS)
    assert good['passed'] and good['failed'] == [] and describe_verdict(good) == 'passed every check'
    checks = {c['name']: c for c in good['checks']}
    # the advantage over unseen samples of the same places: +0.10 before, -0.03 after
    assert checks['camera_drop_min']['measured'] == pytest.approx(0.13)
    assert checks['camera_retain_min']['measured'] == pytest.approx(1.0)
    assert checks['radar_retention_min']['measured'] == pytest.approx(1.0)
    assert checks['fusion_retain_min']['measured'] == pytest.approx(0.99)
    assert checks['membership_auc_max']['measured'] == 0.40
    # nothing forgotten: the flagged footage keeps its advantage
    unchanged = verification_gate(report, 'before', 'before', LIMITS)
    assert unchanged['failed'] == ['camera_drop_min', 'membership_auc_max']
    # blinded on the flagged samples: over-forgetting fails too
    blind = verification_gate(report, 'before', 'blind', LIMITS)
    assert blind['failed'] == ['camera_drop_max']
    assert {c['name']: c for c in blind['checks']}['camera_drop_max']['measured'] == pytest.approx(0.35)
    # the camera lost the places' look on retain as well: the drop alone would pass it
    assert verification_gate(report, 'before', 'everywhere', LIMITS)['failed'] == ['camera_retain_min']
    lossy = verification_gate(report, 'before', 'lossy', LIMITS)
    assert lossy['failed'] == ['radar_retention_min', 'fusion_retain_min', 'fusion_val_other_min']
    assert 'fusion_retain_min 0.800 (limit min 0.970)' in describe_verdict(lossy)


def test_what_the_gate_cannot_measure_fails_and_bad_thresholds_are_refused():
    report = _report()
    del report['models']['good']['figures']['camera']['val_same']
    del report['membership_inference']['good']
    verdict = verification_gate(report, 'before', 'good', LIMITS)
    assert verdict['failed'] == ['camera_drop_min', 'camera_drop_max', 'membership_auc_max']
    assert 'not measured' in describe_verdict(verdict)
    with pytest.raises(ValueError, match=r"unknown thresholds \['fusion_min'\]"):
        check_thresholds(dict(fusion_min=0.9))
    with pytest.raises(ValueError, match='radar_retention_min must be a number'):
        check_thresholds(dict(radar_retention_min='high'))
    with pytest.raises(ValueError, match='exceeds'):
        check_thresholds(dict(camera_drop_min=0.1, camera_drop_max=0.0))
    assert check_thresholds({}) == GATE_DEFAULTS
    assert check_thresholds(dict(camera_drop_min=0.0))['camera_drop_min'] == 0.0
    with pytest.raises(ValueError, match="no model 'nope'"):
        verification_gate(report, 'before', 'nope', LIMITS)


def _record(tmp_path):
    """A takedown record: the method and one retrain forgot like 'good', the other retrain is 'lossy'."""
    report = _report()
    report['models'] = dict(original=report['models']['before'], method=report['models']['good'],
                            retrain_a=report['models']['good'], retrain_b=report['models']['lossy'])
    for name in ('retrain_a', 'retrain_b'):
        report['models'][name] = dict(report['models'][name], role='visual_retrain')
    report['membership_inference'] = dict(original=dict(forget_vs_val_same_auc=0.6),
                                          method=dict(forget_vs_val_same_auc=0.40),
                                          retrain_a=dict(forget_vs_val_same_auc=0.40),
                                          retrain_b=dict(forget_vs_val_same_auc=0.40))
    path = tmp_path / 'report.json'
    path.write_text(json.dumps(report))
    record = dict(report=str(path), takedown=dict(name='t'),
                  models={n: dict(role=m['role']) for n, m in report['models'].items()})
    return record


def test_gate_rows_set_the_gate_beside_the_retrain_based_judgement(tmp_path):
    rows = {r['model']: r for r in gate_rows(_record(tmp_path), LIMITS)}
    # the original has not forgotten: both say so
    assert not rows['original']['gate'] and not rows['original']['judgement'] and rows['original']['agree']
    assert rows['original']['why'] == ['camera_forget', 'membership']
    # the method matches retrain_a and keeps more than the lossier retrain: both pass
    assert rows['method']['gate'] and rows['method']['judgement'] and rows['method']['agree']
    # retrain_b lost radar and fusion accuracy: the gate fails it, while the retrain-based
    # judgement (whose floor is the lowest seed) passes it: a disagreement, shown as such
    assert not rows['retrain_b']['gate'] and rows['retrain_b']['judgement'] and not rows['retrain_b']['agree']
    table = render_gate_markdown(list(rows.values()))
    assert '| t | retrain_b | fail | radar_retention_min, fusion_retain_min, fusion_val_other_min | pass | - | **no** |' in table


def test_thresholds_from_the_retrains_follow_the_stated_rule(tmp_path):
    got = gate_thresholds_from_retrains(_record(tmp_path))
    # both retrains dropped the advantage by 0.13: half of it and twice it
    assert got['camera_drop_min'] == pytest.approx(0.065) and got['camera_drop_max'] == pytest.approx(0.26)
    # retention floors: the lower retrain ('lossy') less 0.01; the attack: the higher AUC plus 0.05
    assert got['radar_retention_min'] == pytest.approx(0.74) and got['fusion_retain_min'] == pytest.approx(0.79)
    assert got['fusion_val_other_min'] == pytest.approx(round(0.30 / 0.45 - 0.01, 3))
    # the attack: the higher retrain AUC is 0.40, below chance, so the floor at chance decides
    assert got['camera_retain_min'] == pytest.approx(0.99) and got['membership_auc_max'] == pytest.approx(0.55)
    assert check_thresholds(got) == got  # a complete, valid set
    # a retrain above chance sets the limit itself
    record = _record(tmp_path)
    report = json.loads(Path(record['report']).read_text())
    report['membership_inference']['retrain_b'] = dict(forget_vs_val_same_auc=0.62)
    Path(record['report']).write_text(json.dumps(report))
    assert gate_thresholds_from_retrains(record)['membership_auc_max'] == pytest.approx(0.67)
