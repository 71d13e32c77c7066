"""Membership inference against the camera branch: its maths, and its verdict on real models."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet3d.registry import MODELS

import ccu_av.evaluation.membership as membership_module
from ccu_av.evaluation.membership import (camera_membership_features, group_folds, membership_attack,
                                          membership_inference, roc_auc)
from tiny_detector import TINY_SETS, save_checkpoint, tiny_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'models'))
from model_fixtures import make_batch, tiny_model_cfg  # noqa: E402


def slow_auc(scores, labels):
    """Reference: the share of (positive, negative) pairs ordered right, ties counting half."""
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def normal_cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=40).astype(float)  # many ties
    labels = rng.random(40) < 0.4
    assert roc_auc(scores, labels) == pytest.approx(slow_auc(scores, labels))
    assert roc_auc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([0, 0, 1, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([0, 0, 1, 1])) == 0.0
    with pytest.raises(ValueError, match='positives and negatives'):
        roc_auc(np.array([0.1, 0.2]), np.array([1, 1]))


def test_attack_on_known_distributions():
    """Members' loss feature ~ N(-d, 1), non-members' ~ N(0, 1), plus a noise feature: the best
    attack has AUC Phi(d / sqrt 2) and, at the balanced threshold -d/2, judges a share
    Phi(d/2) of fresh members (and 1 - Phi(d/2) of fresh non-members) to be members."""
    rng = np.random.default_rng(0)
    d, n = 1.0, 1500

    def draw(shift, size):
        return np.c_[rng.normal(shift, 1.0, size), rng.normal(0.0, 1.0, size)]

    members, nonmembers = draw(-d, n), draw(0.0, n)
    as_members = membership_attack(members, nonmembers, draw(-d, n))
    assert as_members['auc'] == pytest.approx(normal_cdf(d / math.sqrt(2)), abs=0.03)
    assert as_members['forget_member_rate'] == pytest.approx(normal_cdf(d / 2), abs=0.04)
    assert as_members['val_member_rate'] == pytest.approx(1 - normal_cdf(d / 2), abs=0.04)
    assert as_members['forget_vs_val_auc'] == pytest.approx(normal_cdf(d / math.sqrt(2)), abs=0.04)
    # a forget set that looks like validation data: judged like it
    as_unseen = membership_attack(members, nonmembers, draw(0.0, n))
    assert as_unseen['forget_member_rate'] == pytest.approx(1 - normal_cdf(d / 2), abs=0.04)
    assert as_unseen['forget_vs_val_auc'] == pytest.approx(0.5, abs=0.04)
    # no signal at all: chance
    assert membership_attack(draw(0.0, n), nonmembers, draw(0.0, 10))['auc'] == pytest.approx(0.5, abs=0.04)


def test_folds_keep_scenes_whole():
    groups = [f's{i // 3}' for i in range(30)]  # 10 scenes of 3 samples
    labels = np.array([1] * 15 + [0] * 15)
    fold = group_folds(groups, labels, folds=5)
    for scene in set(groups):
        assert len({f for f, g in zip(fold, groups) if g == scene}) == 1
    assert sorted(set(fold)) == list(range(5))
    with pytest.raises(ValueError, match="scene 's4' holds both"):
        group_folds(groups, np.r_[np.ones(13), np.zeros(17)], folds=5)


def test_bad_features_are_refused():
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    nan = rng.normal(size=(4, 3))
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=r'forget set: 1 samples have NaN .* row 2'):
        membership_attack(members, nonmembers, nan)
    with pytest.raises(ValueError, match=r'forget set: expected a non-empty'):
        membership_attack(members, nonmembers, np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r'forget set: 2 features, the other sets have 3'):
        membership_attack(members, nonmembers, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r'5 folds need at least 5 scenes .* got 2 and 10'):
        membership_attack(members, nonmembers, nonmembers, member_groups=['a'] * 5 + ['b'] * 5)


def _features(model, inputs, samples):
    """(S, F) camera membership features, one sample at a time."""
    rows = [camera_membership_features(
        model, dict(imgs=inputs['imgs'][i:i + 1], points=inputs['points'][i:i + 1]), [sample])
        for i, sample in enumerate(samples)]
    assert all(list(row) == list(rows[0]) for row in rows)
    return np.array([list(row.values()) for row in rows])


@pytest.mark.slow
def test_attack_finds_the_training_samples_of_an_overfit_model():
    """A tiny detector memorises 16 random camera scenes; the attack tells them from unseen ones,
    and is at chance between two sets of unseen scenes."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(radar_only_prob=0.0, camera_only_prob=1.0))
    model.init_weights()
    train_inputs, train_samples = make_batch(num_samples=16, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        loss = sum(v for k, v in model.loss(train_inputs, train_samples).items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    trained = _features(model, train_inputs, train_samples)
    unseen_a = _features(model, *make_batch(num_samples=48, seed=2))
    unseen_b = _features(model, *make_batch(num_samples=48, seed=3))
    assert model.modality == 'fusion'  # the features ran in camera mode and restored it

    seen = membership_attack(trained[:12], unseen_a, forget=trained[12:], folds=4)
    assert seen['auc'] > 0.95
    assert seen['forget_member_rate'] >= 0.75 and seen['val_member_rate'] <= 0.25
    fresh = membership_attack(trained[:12], unseen_a, forget=unseen_b, folds=4)
    assert fresh['forget_member_rate'] <= 0.25  # unseen scenes are not judged members
    chance = membership_attack(unseen_a, unseen_b, forget=trained[12:], folds=4)
    assert abs(chance['auc'] - 0.5) <= 0.2


def test_membership_inference_on_a_checkpoint(tiny_nuscenes, tmp_path):
    cfg = tiny_config(tiny_nuscenes)
    checkpoint = save_checkpoint(cfg, tmp_path / 'model.pth')
    figures = membership_inference(cfg, checkpoint, TINY_SETS, folds=2, group_by_scene=False)
    assert figures['features'] == ['loss_bbox', 'loss_depth', 'loss_heatmap', 'loss_img_heatmap']
    assert (figures['num_members'], figures['num_nonmembers'], figures['num_forget']) == (6, 3, 3)
    for key in ('auc', 'forget_member_rate', 'retain_member_rate', 'val_member_rate'):
        assert 0.0 <= figures[key] <= 1.0
    # the tiny validation split is one scene: whole-scene folds are impossible, and said so
    with pytest.raises(ValueError, match=r'2 folds need at least 2 scenes .* got 2 and 1'):
        membership_inference(cfg, checkpoint, TINY_SETS, folds=2)
    with pytest.raises(ValueError, match=r"set 'forget' is empty"):
        membership_inference(cfg, checkpoint, dict(TINY_SETS, forget=[]), folds=2)
    with pytest.raises(ValueError, match=r"missing \['val'\]"):
        membership_inference(cfg, checkpoint, dict(forget=TINY_SETS['forget'], retain=TINY_SETS['retain']))


def test_membership_features_are_cached_per_checkpoint(tiny_nuscenes, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_nuscenes)
    checkpoint = save_checkpoint(cfg, tmp_path / 'model.pth')
    cache = str(tmp_path / 'cache')
    uncached = membership_inference(cfg, checkpoint, TINY_SETS, folds=2, group_by_scene=False)
    first = membership_inference(cfg, checkpoint, TINY_SETS, folds=2, group_by_scene=False, cache_dir=cache)
    assert first == uncached

    def must_not_run(*args, **kwargs):
        raise AssertionError('features recomputed although cached')

    monkeypatch.setattr(membership_module, '_compute_membership_features', must_not_run)
    assert membership_inference(cfg, checkpoint, TINY_SETS, folds=2, group_by_scene=False,
                                cache_dir=cache) == uncached
    # another checkpoint is another entry
    other = save_checkpoint(cfg, tmp_path / 'other.pth', seed=1)
    with pytest.raises(AssertionError, match='recomputed'):
        membership_inference(cfg, other, TINY_SETS, folds=2, group_by_scene=False, cache_dir=cache)


def test_forget_is_compared_with_the_comparable_validation_samples_when_given():
    """Validation samples of two looks: the forget set looks like the first (its own location's);
    against those it is indistinguishable, against all of them it is not."""
    rng = np.random.default_rng(1)
    n = 600
    members = np.c_[rng.normal(-1.0, 1.0, n), rng.normal(0.0, 1.0, n)]
    same = np.c_[rng.normal(-0.5, 1.0, n), rng.normal(0.0, 1.0, n)]   # unseen, the forget set's look
    other = np.c_[rng.normal(0.5, 1.0, n), rng.normal(0.0, 1.0, n)]   # unseen, another look
    forget = np.c_[rng.normal(-0.5, 1.0, n), rng.normal(0.0, 1.0, n)]
    mask = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    out = membership_attack(members, np.r_[same, other], forget, comparison=mask)
    assert out['num_val_same'] == n
    assert out['forget_vs_val_same_auc'] == pytest.approx(0.5, abs=0.04)
    assert out['forget_vs_val_auc'] > 0.6
    everything = membership_attack(members, np.r_[same, other], forget, comparison=np.ones(2 * n, bool))
    assert everything['forget_vs_val_same_auc'] == pytest.approx(everything['forget_vs_val_auc'])
    with pytest.raises(ValueError, match='comparison'):
        membership_attack(members, np.r_[same, other], forget, comparison=np.zeros(2 * n, bool))
    assert 'forget_vs_val_same_auc' not in membership_attack(members, np.r_[same, other], forget)
