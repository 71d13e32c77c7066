"""report_checkpoints: modality-mode figures and membership inference of checkpoints in one report."""
import json
import math
import os

import pytest
from mmengine.config import Config

from ccu_av.evaluation import membership as membership_module
from ccu_av.evaluation.checkpoint_report import report_checkpoints
from ccu_av.evaluation.modal_eval import evaluate_modes
from ccu_av.evaluation.report import build_report
from tiny_detector import TINY_SETS, save_checkpoint, tiny_config

MIA = dict(folds=2, group_by_scene=False)  # the tiny validation split is a single scene


@pytest.fixture(scope='module')
def setup(tiny_nuscenes, tmp_path_factory):
    cfg = tiny_config(tiny_nuscenes)
    root = tmp_path_factory.mktemp('ckpts')
    checkpoints = dict(
        original=dict(role='original', checkpoint=save_checkpoint(cfg, root / 'a.pth', seed=0),
                      wall_time_s=100.0),
        ccu=dict(role='unlearned', checkpoint=save_checkpoint(cfg, root / 'b.pth', seed=1),
                 wall_time_s=10.0))
    return cfg, checkpoints, str(tmp_path_factory.mktemp('cache'))


def test_report_of_two_checkpoints(setup, tmp_path):
    cfg, checkpoints, cache = setup
    paths = report_checkpoints(cfg, checkpoints, TINY_SETS, str(tmp_path / 'out'), cache_dir=cache,
                               membership_kwargs=MIA)
    assert sorted(os.listdir(tmp_path / 'out')) == ['report.json', 'report.md', 'report.png']
    with open(paths['json']) as f:
        report = json.load(f)
    assert report['models']['original']['role'] == 'original'
    assert report['sets']['forget']['num_samples'] == 3
    # the figures are evaluate_modes' (served from the cache filled above)
    for name, entry in checkpoints.items():
        assert report['models'][name]['figures'] == evaluate_modes(cfg, entry['checkpoint'], TINY_SETS,
                                                                   cache_dir=cache)
    for name in checkpoints:
        attack = report['membership_inference'][name]
        assert 0 <= attack['auc'] <= 1 and 0 <= attack['forget_member_rate'] <= 1
        assert attack['num_forget'] == 3
    assert set(report['derived']) == {'ccu'}
    assert report['derived']['ccu']['camera_forget_map_drop'] == pytest.approx(
        report['models']['original']['figures']['camera']['forget']['mAP']
        - report['models']['ccu']['figures']['camera']['forget']['mAP'])
    assert '## Membership inference (camera branch)' in open(paths['md']).read()


def test_bad_input_writes_no_report(setup, tmp_path, monkeypatch):
    cfg, checkpoints, cache = setup
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=r"set 'forget' is empty"):
        report_checkpoints(cfg, checkpoints, dict(TINY_SETS, forget=[]), str(out), cache_dir=cache,
                           membership_kwargs=MIA)
    with pytest.raises(ValueError, match=r"missing \['forget'\]"):
        report_checkpoints(cfg, checkpoints, dict(retain=TINY_SETS['retain'], val=TINY_SETS['val']),
                           str(out), cache_dir=cache, membership_kwargs=MIA)
    other = Config(cfg.to_dict())
    other.model.fuser.out_channels = 8  # another architecture than the checkpoints'
    with pytest.raises(ValueError, match=r'(?s)does not fit CamRadarBEVFusion.*fuser'):
        report_checkpoints(other, checkpoints, TINY_SETS, str(out), membership_kwargs=MIA)
    # a loss that came out NaN on one sample
    original = membership_module.camera_membership_features
    calls = []

    def nan_once(model, inputs, samples):
        features = original(model, inputs, samples)
        calls.append(1)
        return {k: math.nan if len(calls) == 5 else v for k, v in features.items()}

    monkeypatch.setattr(membership_module, 'camera_membership_features', nan_once)
    with pytest.raises(ValueError, match=r'1 samples have NaN'):
        report_checkpoints(cfg, checkpoints, TINY_SETS, str(out), membership_kwargs=MIA)  # no cache
    # with a cache: refused before anything is cached, naming the sample
    calls.clear()
    fresh = tmp_path / 'fresh_cache'
    with pytest.raises(ValueError, match=r'membership features of sample \S+: NaN or infinite .* nothing was cached'):
        report_checkpoints(cfg, checkpoints, TINY_SETS, str(out), cache_dir=str(fresh), membership_kwargs=MIA)
    assert not list(fresh.glob('*/camera_membership/*'))
    assert not out.exists() or not os.listdir(out)


def test_build_report_checks_membership(setup):
    cfg, checkpoints, cache = setup
    figures = {name: evaluate_modes(cfg, entry['checkpoint'], TINY_SETS, cache_dir=cache)
               for name, entry in checkpoints.items()}
    models = {name: dict(role=entry['role'], checkpoint_sha256=f'{i}' * 64, wall_time_s=None)
              for i, (name, entry) in enumerate(checkpoints.items())}
    common = dict(dataset=dict(data_root='/d', version='v'), config=dict(path=None, sha256=None))
    for membership, message in (
            (dict(ccu=dict(auc=math.nan, forget_member_rate=0.5)),
             r"'ccu': auc must be a number in \[0, 1\], got nan"),
            (dict(ccu=dict(auc=0.5)), r"'ccu': forget_member_rate must be"),
            (dict(retrain=dict(auc=0.5, forget_member_rate=0.5)), r"names model 'retrain'"),
            (dict(ccu=dict(auc=0.5, forget_member_rate=0.5, val_member_rate=math.inf)),
             r'val_member_rate is inf')):
        with pytest.raises(ValueError, match=message):
            build_report(figures, models, TINY_SETS, membership_inference=membership, **common)
    with pytest.raises(ValueError, match=r"sets \['forget'\] are empty"):
        build_report(figures, models, dict(TINY_SETS, forget=[]), **common)
