"""relearn_curve: the tiny detector fine-tuned on the forget samples of the tiny dataroot, scored
camera-only on them, and the curve cached in the work dir."""
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'evaluation'))  # tiny_detector

from tiny_detector import TINY_SETS, save_checkpoint, tiny_config  # noqa: E402

from ccu_av.benchmark import relearn  # noqa: E402
from ccu_av.benchmark.relearn import relearn_curve  # noqa: E402
from ccu_av.evaluation.modal_eval import evaluate_modes  # noqa: E402
from ccu_av.utils import load_checkpoint_file  # noqa: E402

FORGET = TINY_SETS['forget']  # scene-0001, in the training info file
LR = 1e-3


@pytest.fixture(scope='module')
def tiny_setup(tiny_nuscenes, tmp_path_factory):
    """The tiny detector's training config (also its evaluation config) and a checkpoint of it."""
    cfg = tiny_config(tiny_nuscenes)
    cfg.default_hooks.logger.interval = 1
    checkpoint = save_checkpoint(cfg, tmp_path_factory.mktemp('ckpt') / 'model.pth')
    return cfg, checkpoint


@pytest.fixture
def trainings(monkeypatch):
    """Runner.from_cfg made to record its config and refuse to train."""
    seen = []

    def refuse(cfg):
        seen.append(cfg)
        raise AssertionError('the relearning run trained')

    monkeypatch.setattr(Runner, 'from_cfg', refuse)
    return seen


def test_curve_is_trained_scored_cached_and_cleaned_up(tiny_setup, tmp_path, monkeypatch):
    cfg, checkpoint = tiny_setup
    work_dir = tmp_path / 'relearn'
    curve = relearn_curve(cfg, cfg, checkpoint, FORGET, FORGET, (0, 2), LR, str(work_dir),
                          cache_dir=str(tmp_path / 'predictions'))
    assert list(curve) == [0, 2]
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in curve.values())
    # iteration 0 is the checkpoint itself, scored as evaluate_modes scores it (no cache here)
    alone = evaluate_modes(cfg, checkpoint, {'forget': FORGET}, modes=('camera',))
    assert curve[0] == alone['camera']['forget']['mAP']
    # the run the runner dumped: from the checkpoint, on the forget samples, constant lr, no val
    run = Config.fromfile(str(work_dir / Path(cfg.filename).name))
    assert run.load_from == checkpoint and run.resume is False
    assert run.train_dataloader.dataset.sample_tokens == sorted(FORGET)
    assert run.optim_wrapper.optimizer.lr == LR and run.train_cfg.max_iters == 2
    assert [s.type for s in run.param_scheduler] == ['ConstantLR'] and run.val_dataloader is None
    assert cfg.train_dataloader.dataset.get('sample_tokens') is None  # the caller's config untouched
    # the result file, the logs kept, the intermediate checkpoints gone
    result = json.loads((work_dir / 'relearn.json').read_text())
    assert result['curve'] == [[0, curve[0]], [2, curve[2]]] and result['wall_time_s'] > 0
    assert not list(work_dir.rglob('*.pth')) and list(work_dir.rglob('*.log'))

    # a second call reads the curve back: no training, no evaluation
    def no_evaluation(*args, **kwargs):
        raise AssertionError('evaluated again')

    monkeypatch.setattr(relearn, 'evaluate_modes', no_evaluation)
    monkeypatch.setattr(Runner, 'from_cfg', no_evaluation)
    assert relearn_curve(cfg, cfg, checkpoint, FORGET, FORGET, (0, 2), LR, str(work_dir),
                         cache_dir=str(tmp_path / 'predictions')) == curve
    # another lr is another curve: not served the cached one
    with pytest.raises(AssertionError, match='evaluated again'):
        relearn_curve(cfg, cfg, checkpoint, FORGET, FORGET, (0, 2), 2 * LR, str(work_dir))


@pytest.mark.parametrize('change, error, message', [
    (dict(forget_tokens=[]), ValueError, 'forget_tokens is empty'),
    (dict(forget_tokens='sample-scene-0001-0'), ValueError, 'forget_tokens: expected a sequence'),
    (dict(eval_tokens=[]), ValueError, 'eval_tokens is empty'),
    (dict(eval_tokens=FORGET * 2), ValueError, 'eval_tokens: 3 duplicated'),
    (dict(iters=()), ValueError, 'iters must be a non-empty'),
    (dict(iters=(0, -2)), ValueError, 'iters must be integers >= 0'),
    (dict(iters=(2, 2)), ValueError, 'iters must be strictly increasing'),
    (dict(iters=(2, 0)), ValueError, 'iters must be strictly increasing'),
    (dict(lr=0.0), ValueError, 'lr must be a finite number > 0'),
    (dict(lr=-1e-3), ValueError, 'lr must be'),
    (dict(mode='lidar'), ValueError, "mode must be one of .* got 'lidar'"),
    (dict(checkpoint='no-such.pth'), FileNotFoundError, 'checkpoint no-such.pth does not exist'),
    (dict(eval_tokens=['no-such-sample']), ValueError, 'eval_tokens: 1 sample tokens are not in'),
])
def test_bad_arguments_fail_before_training(tiny_setup, tmp_path, trainings, change, error, message):
    cfg, checkpoint = tiny_setup
    args = dict(pretrain_cfg=cfg, detector_cfg=cfg, checkpoint=checkpoint, forget_tokens=FORGET,
                eval_tokens=FORGET, iters=(0, 2), lr=LR, work_dir=str(tmp_path / 'relearn'))
    with pytest.raises(error, match=message):
        relearn_curve(**dict(args, **change))
    assert trainings == [] and not (tmp_path / 'relearn' / 'relearn.json').exists()


def test_checkpoint_of_another_architecture_fails_before_training(tiny_setup, tmp_path, trainings):
    cfg, checkpoint = tiny_setup
    state = load_checkpoint_file(checkpoint)['state_dict']
    missing = next(k for k in state if k.startswith('radar_encoder'))
    state.pop(missing)
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=state, meta={}), other)
    with pytest.raises(ValueError, match=rf'(?s)does not fit CamRadarBEVFusion.*missing in checkpoint: {missing}'):
        relearn_curve(cfg, cfg, other, FORGET, FORGET, (0, 2), LR, str(tmp_path / 'relearn'))
    assert trainings == []
