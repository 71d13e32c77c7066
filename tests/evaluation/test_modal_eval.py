"""evaluate_modes: one checkpoint in fusion, camera-only and radar-only mode on forget/retain/val."""
import os

import pytest
from mmengine.config import Config

from ccu_av.evaluation.modal_eval import evaluate_modes, predict_checkpoint, split_tokens
from ccu_av.models import CamRadarBEVFusion
from tiny_detector import TINY_SETS, save_checkpoint, tiny_config

MODES = ('fusion', 'camera', 'radar')
NUM_SAMPLES = sum(len(tokens) for tokens in TINY_SETS.values())  # 12, all distinct


@pytest.fixture
def calls(monkeypatch):
    """(modality, batch size) of every extract_modal_feats call of the detector."""
    seen = []
    original = CamRadarBEVFusion.extract_modal_feats

    def counted(self, batch_inputs, batch_data_samples):
        seen.append((self.modality, len(batch_data_samples)))
        return original(self, batch_inputs, batch_data_samples)

    monkeypatch.setattr(CamRadarBEVFusion, 'extract_modal_feats', counted)
    return seen


@pytest.fixture(scope='module')
def tiny_setup(tiny_nuscenes, tmp_path_factory):
    cfg = tiny_config(tiny_nuscenes)
    checkpoint = save_checkpoint(cfg, tmp_path_factory.mktemp('ckpt') / 'model.pth')
    return cfg, checkpoint


@pytest.fixture(scope='module')
def first_run(tiny_setup, tmp_path_factory):
    """Figures of the tiny checkpoint on TINY_SETS, the model calls it took, and its cache."""
    cfg, checkpoint = tiny_setup
    cache = str(tmp_path_factory.mktemp('cache'))
    seen = []
    original = CamRadarBEVFusion.extract_modal_feats

    def counted(self, batch_inputs, batch_data_samples):
        seen.append((self.modality, len(batch_data_samples)))
        return original(self, batch_inputs, batch_data_samples)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CamRadarBEVFusion, 'extract_modal_feats', counted)
        figures = evaluate_modes(cfg, checkpoint, TINY_SETS, cache_dir=cache)
    return figures, seen, cache


def test_one_pass_per_mode_then_cache(tiny_setup, first_run, calls):
    cfg, checkpoint = tiny_setup
    figures, first_calls, cache = first_run
    assert set(figures) == set(MODES)
    for mode in MODES:
        assert set(figures[mode]) == set(TINY_SETS)
        for flat in figures[mode].values():
            assert 0.0 <= flat['mAP'] <= 1.0 and 0.0 <= flat['NDS'] <= 1.0
            assert 'AP_car' in flat and 'mATE' in flat
    # each sample ran once per mode: the union of the sets, not once per set
    assert sorted(first_calls) == sorted((mode, 1) for mode in MODES for _ in range(NUM_SAMPLES))
    # the modes are really different models of the same weights
    assert figures['camera'] != figures['radar']
    # a repeated report reads the predictions from the cache: the model does not run
    assert evaluate_modes(cfg, checkpoint, TINY_SETS, cache_dir=cache) == figures
    assert calls == []
    # a subset of the cached samples is served too
    subset = dict(forget=TINY_SETS['forget'])
    assert evaluate_modes(cfg, checkpoint, subset, modes=('camera',), cache_dir=cache) == \
        dict(camera=dict(forget=figures['camera']['forget']))
    assert calls == []


def test_union_pass_scores_each_set_as_its_own_run(tiny_setup, first_run):
    cfg, checkpoint = tiny_setup
    alone = evaluate_modes(cfg, checkpoint, dict(val=TINY_SETS['val']), modes=('camera',))
    assert alone['camera']['val'] == first_run[0]['camera']['val']


def test_other_pipeline_is_not_served_stale_predictions(tiny_setup, tmp_path, calls):
    cfg, checkpoint = tiny_setup
    cache = str(tmp_path / 'cache')
    sets = dict(val=TINY_SETS['val'])
    predict_checkpoint(cfg, checkpoint, sets['val'], modes=('radar',), cache_dir=cache)
    other = Config(cfg.to_dict())
    radar = next(t for t in other.test_dataloader.dataset.pipeline if t['type'] == 'LoadRadarSweeps')
    radar['num_sweeps'] = 1
    calls.clear()
    predict_checkpoint(other, checkpoint, sets['val'], modes=('radar',), cache_dir=cache)
    assert len(calls) == len(sets['val'])


def test_checkpoint_of_another_architecture_is_refused(tiny_setup, tiny_nuscenes, tmp_path, calls):
    _, checkpoint = tiny_setup
    other = tiny_config(tiny_nuscenes)
    other.model.radar_encoder.out_channels = 4
    other.model.fuser.in_channels = [16, 4]
    cache = tmp_path / 'cache'
    with pytest.raises(ValueError, match=r'(?s)does not fit CamRadarBEVFusion.*radar_encoder'):
        evaluate_modes(other, checkpoint, TINY_SETS, cache_dir=str(cache))
    assert calls == [] and not cache.exists()


@pytest.mark.parametrize('sets, message', [
    (dict(TINY_SETS, forget=[]), r"set 'forget' is empty"),
    (dict(TINY_SETS, val=TINY_SETS['val'] * 2), r"set 'val': 3 duplicated"),
    (dict(TINY_SETS, val=['no-such-sample']), r'1 sample tokens .* not in .*v1.0-tiny.*no-such-sample'),
    ({}, r'no sets'),
])
def test_bad_sets_fail_before_the_model_runs(tiny_setup, tmp_path, calls, sets, message):
    cfg, checkpoint = tiny_setup
    with pytest.raises(ValueError, match=message):
        evaluate_modes(cfg, checkpoint, sets, cache_dir=str(tmp_path / 'cache'))
    assert calls == [] and not os.path.exists(tmp_path / 'cache')


def test_unknown_mode(tiny_setup):
    cfg, checkpoint = tiny_setup
    with pytest.raises(ValueError, match=r"mode must be one of .* got 'lidar'"):
        evaluate_modes(cfg, checkpoint, TINY_SETS, modes=('lidar',))


def test_dataset_wrappers_are_unwrapped(tiny_setup, first_run):
    """A class-balanced resampling wrapper (CBGS) must not repeat or drop evaluated samples."""
    cfg, checkpoint = tiny_setup
    wrapped = Config(cfg.to_dict())
    wrapped.test_dataloader.dataset = dict(type='CBGSDataset', dataset=cfg.test_dataloader.dataset.to_dict())
    alone = evaluate_modes(wrapped, checkpoint, dict(val=TINY_SETS['val']), modes=('camera',))
    assert alone['camera']['val'] == first_run[0]['camera']['val']


def test_split_tokens_are_the_info_files_samples(tiny_setup):
    cfg, _ = tiny_setup
    assert split_tokens(cfg) == TINY_SETS['val']
    assert split_tokens(cfg, 'train_dataloader') == TINY_SETS['forget'] + TINY_SETS['retain']
    selected = Config(cfg.to_dict())
    selected.test_dataloader.dataset.sample_tokens = TINY_SETS['val'][1:]
    assert split_tokens(selected) == TINY_SETS['val'][1:]
