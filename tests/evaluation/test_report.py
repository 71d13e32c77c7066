import json
import os

import pytest

from ccu_av.evaluation import report as report_module
from ccu_av.evaluation.nusc_subset_eval import NuScenesSubsetEvaluator
from ccu_av.evaluation.report import (MODES, build_report, evaluate_models, render_markdown,
                                      resolve_sets, write_report)
from tiny_nusc_tables import gt_predictions

SETS = dict(forget='forget', retain=['scene-0553'], val='mini_val')


@pytest.fixture(scope='module')
def evaluator(tiny_nusc):
    return NuScenesSubsetEvaluator(tiny_nusc)


@pytest.fixture(scope='module')
def sets(evaluator):
    return resolve_sets(evaluator, SETS)


def _model(tiny_nusc, sets, noise, camera_forget_noise):
    """Predictions per mode; the camera mode is worse on the forget set by its own noise."""
    by_mode = {mode: gt_predictions(tiny_nusc, noise=noise, seed=i) for i, mode in enumerate(MODES)}
    worse = gt_predictions(tiny_nusc, noise=camera_forget_noise, seed=9)
    for token in sets['forget']:
        by_mode['camera'][token] = worse[token]
    return by_mode


@pytest.fixture(scope='module')
def figures(evaluator, tiny_nusc, sets):
    predictions = dict(original=_model(tiny_nusc, sets, 0.1, 0.1),
                       ccu=_model(tiny_nusc, sets, 0.15, 1.5),
                       visual=_model(tiny_nusc, sets, 0.15, 1.0))
    return evaluate_models(evaluator, predictions, sets)


MODELS = dict(original=dict(role='original', checkpoint_sha256='1' * 64, wall_time_s=600.0),
              ccu=dict(role='unlearned', checkpoint_sha256='2' * 64, wall_time_s=30.0),
              visual=dict(role='visual_retrain', checkpoint_sha256='3' * 64, wall_time_s=500.0))


def _report(figures, sets, **kw):
    return build_report(figures, kw.pop('models', MODELS), sets,
                        dataset=dict(data_root='/d', version='v1.0-mini',
                                     eval_config='detection_cvpr_2019'),
                        config=dict(path='configs/ccu_bevfusion.py', sha256='4' * 64),
                        membership_inference=dict(ccu=dict(auc=0.52, forget_member_rate=0.4)),
                        **kw)


def test_derived_figures(figures, sets):
    report = _report(figures, sets)
    before, after, visual = (figures[m] for m in ('original', 'ccu', 'visual'))
    derived = report['derived']['ccu']
    assert derived['camera_forget_map_drop'] == pytest.approx(
        before['camera']['forget']['mAP'] - after['camera']['forget']['mAP'])
    assert derived['camera_forget_map_drop'] > 0.2  # the camera forgot the forget set
    assert derived['radar_forget_retention'] == pytest.approx(
        after['radar']['forget']['mAP'] / before['radar']['forget']['mAP'])
    assert derived['fusion_val_nds_ratio'] == pytest.approx(
        after['fusion']['val']['NDS'] / before['fusion']['val']['NDS'])
    gaps = [abs(after[m][s][f] - visual[m][s][f])
            for m in MODES for s in ('forget', 'retain', 'val') for f in ('mAP', 'NDS')]
    assert derived['mean_abs_gap_to_visual_retrain'] == pytest.approx(sum(gaps) / 18)
    assert derived['time_vs_visual_retrain'] == pytest.approx(30.0 / 500.0)
    assert list(report['derived']) == ['ccu']
    assert report['sets']['forget']['num_samples'] == len(sets['forget'])
    # undefined TP errors are null, not NaN
    assert before['fusion']['val']['traffic_cone_orient_err'] is None


def test_write_report(figures, sets, tmp_path):
    report = _report(figures, sets, wall_times_s=dict(evaluation=1.5))
    paths = write_report(report, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['report.json', 'report.md', 'report.png']
    loaded = json.loads(open(paths['json']).read())
    assert loaded['schema_version'] == 1 and loaded['derived'] == report['derived']
    assert loaded['models']['ccu']['figures']['camera']['forget']['mAP'] == \
        report['models']['ccu']['figures']['camera']['forget']['mAP']
    md = open(paths['md']).read()
    row = [line for line in md.splitlines() if line.startswith('| ccu | unlearned |')][0]
    assert f"{figures['ccu']['fusion']['forget']['mAP']:.4f}" in md
    assert row.count('/') == 3  # mAP / NDS for each of the 3 sets
    assert '| ccu | auc | 0.5200 |' in md
    assert open(paths['png'], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.getsize(paths['png']) > 5000


@pytest.mark.parametrize('change, message', [
    (dict(models=dict(MODELS, ccu=dict(MODELS['ccu'], role='student'))), 'role must be one of'),
    (dict(models=dict(MODELS, ccu=dict(MODELS['ccu'], checkpoint_sha256='xyz'))), '64 hex digits'),
    (dict(models=dict(MODELS, ccu=dict(MODELS['ccu'], role='original'))), 'exactly one model'),
    (dict(models=dict(MODELS, other=dict(MODELS['ccu']))), "model 'other': no figures"),
])
def test_bad_models_raise(figures, sets, change, message):
    with pytest.raises(ValueError, match=message):
        _report(figures, sets, **change)


def test_bad_sets_raise(evaluator, figures, sets):
    with pytest.raises(ValueError, match=r"missing \['retain'\]"):
        resolve_sets(evaluator, dict(forget='forget', val='mini_val'))
    with pytest.raises(ValueError, match='forget: the set of 0 entries holds no samples'):
        resolve_sets(evaluator, dict(SETS, forget=[]))
    partial = {name: figures[name] for name in figures}
    partial['ccu'] = {mode: dict(figures['ccu'][mode]) for mode in MODES}
    del partial['ccu']['radar']['val']
    with pytest.raises(ValueError, match="model 'ccu': no figures for mode 'radar' on set 'val'"):
        _report(partial, sets)


def test_missing_predictions_name_the_model(evaluator, tiny_nusc, sets):
    predictions = gt_predictions(tiny_nusc, noise=0.0, seed=0)
    del predictions[sets['val'][0]]
    with pytest.raises(ValueError, match="model 'm', mode 'camera': set 'val': no prediction"):
        evaluate_models(evaluator, dict(m=dict(camera=predictions)), sets)


def test_figure_cache_scores_each_set_once_and_follows_its_predictions(evaluator, tiny_nusc, sets, tmp_path,
                                                                      monkeypatch):
    predictions = dict(m=dict(camera=gt_predictions(tiny_nusc, noise=0.2, seed=3)))
    uncached = evaluate_models(evaluator, predictions, sets)
    scored = []
    evaluate = NuScenesSubsetEvaluator.evaluate

    def counting_evaluate(self, set_predictions, tokens):
        scored.append(sorted(tokens))
        return evaluate(self, set_predictions, tokens)

    monkeypatch.setattr(NuScenesSubsetEvaluator, 'evaluate', counting_evaluate)
    cache = str(tmp_path / 'cache')
    assert evaluate_models(evaluator, predictions, sets, cache_dir=cache) == uncached
    assert len(scored) == len(sets) and len(os.listdir(os.path.join(cache, 'figures'))) == len(sets)
    scored.clear()
    assert evaluate_models(evaluator, predictions, sets, cache_dir=cache) == uncached
    assert scored == []

    # one retain sample's predictions change: the sets holding it are scored again, the others read
    changed = {mode: dict(by_token) for mode, by_token in predictions['m'].items()}
    token = sets['retain'][0]
    changed['camera'][token] = [dict(box, detection_score=box['detection_score'] / 2)
                                for box in changed['camera'][token]]
    holding = {name for name, tokens in sets.items() if token in tokens}
    assert holding and holding != set(sets)
    figures = evaluate_models(evaluator, dict(m=changed), sets, cache_dir=cache)
    assert sorted(map(tuple, scored)) == sorted(tuple(sorted(sets[name])) for name in holding)
    assert figures == evaluate_models(evaluator, dict(m=changed), sets)
    assert all(figures['m']['camera'][name] == uncached['m']['camera'][name] for name in set(sets) - holding)

    stored = os.path.join(cache, 'figures', sorted(os.listdir(os.path.join(cache, 'figures')))[0])
    with open(stored, 'w') as f:
        json.dump(dict(schema=0), f)
    with pytest.raises(ValueError, match=f'{stored}: not a schema-1 figure file'):
        # the damaged file is one of these two evaluations' sets
        evaluate_models(evaluator, predictions, sets, cache_dir=cache)
        evaluate_models(evaluator, dict(m=changed), sets, cache_dir=cache)


def test_failed_write_leaves_nothing(figures, sets, tmp_path, monkeypatch):
    def broken_plot(report, path):
        raise RuntimeError('no plot')

    monkeypatch.setattr(report_module, 'plot_report', broken_plot)
    with pytest.raises(RuntimeError, match='no plot'):
        write_report(_report(figures, sets), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_markdown_lists_every_mode(figures, sets):
    md = render_markdown(_report(figures, sets))
    for mode in MODES:
        assert f'## {mode} mode (mAP / NDS)' in md
