import json
import math

import pytest
from nuscenes.eval.common import loaders
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.evaluate import DetectionEval

from ccu_av.evaluation import nusc_subset_eval
from ccu_av.evaluation.nusc_subset_eval import NuScenesSubsetEvaluator, flatten_metrics
from tiny_nusc_tables import CUSTOM_SPLITS, gt_predictions


def _official(nusc, predictions, split, tmp_path):
    """The devkit's own DetectionEval on a result file of exactly the split's samples."""
    path = tmp_path / f'results_{split}.json'
    path.write_text(json.dumps({'meta': {}, 'results': predictions}))
    evaluation = DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path), split,
                               str(tmp_path / f'official_{split}'), verbose=False)
    return evaluation.evaluate()[0]


def _assert_same(ours, official):
    a, b = ours.serialize(), official.serialize()
    for key in ('label_aps', 'label_tp_errors'):
        for class_name, values in b[key].items():
            for k, v in values.items():
                got = a[key][class_name][k]
                assert (math.isnan(got) and math.isnan(v)) or abs(got - v) <= 1e-9, \
                    (key, class_name, k, got, v)
    for key in ('mean_ap', 'nd_score'):
        assert abs(a[key] - b[key]) <= 1e-9, (key, a[key], b[key])
    for k, v in b['tp_errors'].items():
        assert abs(a['tp_errors'][k] - v) <= 1e-9, (k, a['tp_errors'][k], v)


@pytest.fixture(scope='module')
def evaluator(tiny_nusc):
    return NuScenesSubsetEvaluator(tiny_nusc)


@pytest.mark.parametrize('split', ['mini_val', 'mini_train', 'heldout', 'forget'])
@pytest.mark.parametrize('kind', ['perfect', 'noisy', 'some_empty'])
def test_equals_official_detection_eval(evaluator, tiny_nusc, tmp_path, split, kind):
    predictions = gt_predictions(tiny_nusc, noise=0.0 if kind == 'perfect' else 0.4, seed=3)
    tokens = evaluator.resolve(split)
    subset = {token: predictions[token] for token in tokens}
    if kind == 'some_empty':
        subset = {token: [] if i % 2 else boxes for i, (token, boxes) in enumerate(subset.items())}
    ours = evaluator.evaluate(subset, tokens)
    official = _official(tiny_nusc, subset, split, tmp_path)
    _assert_same(ours, official)
    assert 0.0 < ours.mean_ap <= 1.0 + 1e-9


def test_perfect_predictions_score_full_ap(evaluator, tiny_nusc):
    predictions = gt_predictions(tiny_nusc, noise=0.0, seed=0)
    tokens = evaluator.resolve('mini_train')
    flat = flatten_metrics(evaluator.evaluate({t: predictions[t] for t in tokens}, tokens))
    for class_name in ('car', 'pedestrian', 'bus', 'barrier'):
        assert flat[f'AP_{class_name}'] == pytest.approx(1.0)
    assert flat['mATE'] == pytest.approx(0.0, abs=1e-6)
    assert flat['mASE'] == pytest.approx(0.0, abs=1e-6)
    noisy = gt_predictions(tiny_nusc, noise=0.6, seed=0)
    flat_noisy = flatten_metrics(evaluator.evaluate({t: noisy[t] for t in tokens}, tokens))
    assert flat_noisy['mAP'] < flat['mAP'] and flat_noisy['mATE'] > 0.1


def test_all_empty_predictions_score_zero(evaluator, tiny_nusc, tmp_path):
    tokens = evaluator.resolve('mini_val')
    flat = flatten_metrics(evaluator.evaluate({t: [] for t in tokens}, tokens))
    assert flat['mAP'] == 0.0 and flat['NDS'] == 0.0
    assert flat['mATE'] == 1.0 and flat['mAAE'] == 1.0
    # the official evaluation cannot score a result file without any box: it raises
    with pytest.raises(Exception, match='Invalid box type'):
        _official(tiny_nusc, {t: [] for t in tokens}, 'mini_val', tmp_path)


def test_ground_truth_loaded_once_and_shared(tiny_nusc, monkeypatch):
    evaluator = NuScenesSubsetEvaluator(tiny_nusc)
    calls = []
    original = nusc_subset_eval.load_gt_of_sample_tokens

    def counting(nusc, tokens, *args, **kwargs):
        calls.append(list(tokens))
        return original(nusc, tokens, *args, **kwargs)

    monkeypatch.setattr(nusc_subset_eval, 'load_gt_of_sample_tokens', counting)
    predictions = gt_predictions(tiny_nusc, noise=0.3, seed=5)
    first = evaluator.evaluate_sets(predictions, {'val': 'mini_val', 'forget': 'forget'})
    again = evaluator.evaluate_sets(predictions, {'val': 'mini_val', 'all': None,
                                                  'forget': CUSTOM_SPLITS['forget']})
    loaded = [token for batch in calls for token in batch]
    assert len(loaded) == len(set(loaded)) == len(tiny_nusc.sample)
    assert flatten_metrics(first['val']) == flatten_metrics(again['val'])
    assert flatten_metrics(first['forget']) == flatten_metrics(again['forget'])
    assert set(again) == {'val', 'all', 'forget'}


def test_resolve_sets(evaluator, tiny_nusc):
    scene_of = {s['token']: tiny_nusc.get('scene', s['scene_token'])['name'] for s in tiny_nusc.sample}
    val = evaluator.resolve('mini_val')
    assert {scene_of[t] for t in val} == {'scene-0103', 'scene-0916'} and len(val) == 10
    assert evaluator.resolve(['scene-0103', 'scene-0916']) == val
    assert evaluator.resolve('heldout') == val
    assert evaluator.resolve(val[:3]) == val[:3]
    with pytest.raises(ValueError, match='neither all scene names'):
        evaluator.resolve(['scene-0103', 'no-such-token'], 'forget')
    with pytest.raises(ValueError, match='no samples'):
        evaluator.resolve([], 'forget')
    with pytest.raises(ValueError, match='predefined splits need their version'):
        evaluator.resolve('test')
    with pytest.raises(ValueError, match='not found'):
        evaluator.resolve('no_such_split')
    splits_file = tiny_nusc.dataroot + '/' + tiny_nusc.version + '/splits.json'
    splits = json.loads(open(splits_file).read())
    try:
        open(splits_file, 'w').write(json.dumps(dict(splits, typo=['scene-0061', 'scene-9999'])))
        with pytest.raises(ValueError, match="split 'typo' .* names 1 scenes that are not"):
            evaluator.resolve('typo')
    finally:
        open(splits_file, 'w').write(json.dumps(splits))
    with pytest.raises(ValueError, match='duplicated'):
        evaluator.resolve([val[0], val[0]])


def _one_box(tiny_nusc, **changes):
    predictions = gt_predictions(tiny_nusc, noise=0.0, seed=0)
    tokens = list(predictions)[:2]
    subset = {t: predictions[t] for t in tokens}
    subset[tokens[0]] = [dict(subset[tokens[0]][0], **changes)]
    return subset, tokens


@pytest.mark.parametrize('changes, message', [
    (dict(detection_score=float('nan')), 'detection_score must be a finite'),
    (dict(detection_score=1), 'detection_score must be a finite'),
    (dict(size=[1.0, float('nan'), 1.0]), 'size must be 3 finite'),
    (dict(size=[1.0, 0.0, 1.0]), 'size must be positive'),
    (dict(translation=[1.0, 2.0]), 'translation must be 3 finite'),
    (dict(velocity=[float('nan'), 0.0]), 'velocity must be 2 finite'),
    (dict(detection_name='van'), "unknown detection_name 'van'"),
    (dict(attribute_name='vehicle.flying'), "unknown attribute_name 'vehicle.flying'"),
    (dict(sample_token='other'), "sample_token 'other' differs"),
])
def test_bad_boxes_raise_naming_sample(evaluator, tiny_nusc, changes, message):
    subset, tokens = _one_box(tiny_nusc, **changes)
    with pytest.raises(ValueError, match=message) as info:
        evaluator.evaluate(subset, tokens)
    assert tokens[0] in str(info.value)


def test_bad_sets_raise(evaluator, tiny_nusc):
    predictions = gt_predictions(tiny_nusc, noise=0.0, seed=0)
    tokens = evaluator.resolve('forget')
    with pytest.raises(ValueError, match='outside the evaluated set'):
        evaluator.evaluate(predictions, tokens)
    with pytest.raises(ValueError, match='no prediction entry for 1 of'):
        evaluator.evaluate({t: predictions[t] for t in tokens[1:]}, tokens)
    with pytest.raises(ValueError, match='empty set'):
        evaluator.evaluate({}, [])
    with pytest.raises(ValueError, match="set 'val': no prediction entry"):
        evaluator.evaluate_sets({t: predictions[t] for t in tokens}, {'val': 'mini_val'})
    too_many = {t: [] for t in tokens}
    too_many[tokens[0]] = [predictions[tokens[0]][0]] * 501
    with pytest.raises(ValueError, match='at most 500'):
        evaluator.evaluate(too_many, tokens)


def test_loaders_match_devkit_split_loader(evaluator, tiny_nusc):
    # the cached ground truth of a predefined split is the devkit's load_gt of that split
    official = loaders.load_gt(tiny_nusc, 'mini_val', nusc_subset_eval.DetectionBox)
    ours = evaluator.ground_truth(evaluator.resolve('mini_val'))
    assert set(ours.sample_tokens) == set(official.sample_tokens)
    assert len(ours.all) < len(official.all)  # ours is filtered: ranges, empty boxes, racks
