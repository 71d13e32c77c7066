"""CCU's forget-match term (``w_forget_match``): the forget batches' camera-only losses are raised
to the original's level on held-out samples, and no further; the levels come from the pre-pass
over the paired dataset's held-out samples and come back with a checkpoint."""
import math

import pytest
import torch

from ccu_av.models.interface import camera_losses
from ccu_av.unlearning import PairedDataset
from ccu_av.unlearning.objectives import CCU
from ccu_av.unlearning.paired_data import holdout_batches
from ccu_av.unlearning.teacher import snapshot_teacher
from tiny_ccu_model import PCR, ToyBEVDataset, whole_batch
from toy_runner import make_runner

# only the match term: every other term off, so what moves is the match term's doing
MATCH_ONLY = dict(w_detection=0.0, w_unlearn=0.0, w_spread=0.0, w_radar_embedding=0.0, w_radar_bev=0.0,
                  w_radar_detection=0.0, w_retain_structure=0.0, w_separation=0.0, w_forget_fusion=0.0)


def split(batch, size):
    n = len(batch['data_samples'])
    return [dict(inputs={k: v[i:i + size] for k, v in batch['inputs'].items()},
                 data_samples=batch['data_samples'][i:i + size]) for i in range(0, n, size)]


@pytest.fixture
def held_out():
    """Samples of the forget set's location (0) that the original never trained on."""
    return ToyBEVDataset(locations=(0,), num_samples=6, seed=11)


def camera_log_losses(model, batch):
    return {k: math.log(float(v.detach()) + 1e-6) for k, v in camera_losses(model, batch['inputs'], batch['data_samples']).items()}


def test_the_prepass_stores_the_teacher_s_mean_log_camera_loss_over_held_out_batches(original_model, toy_sets, held_out):
    teacher = snapshot_teacher(original_model)
    objective = CCU(PCR, w_forget_match=1.0)
    assert objective.has_prepass and objective.prepass_reads_holdout and not objective.prepass_reads_retain
    held = split(whole_batch(original_model, [held_out]), 2)
    forget = whole_batch(original_model, [toy_sets['forget']])
    objective.prepass(original_model, teacher, [forget], holdout_batches=held)
    expected = [sum(camera_log_losses(teacher, b)[name] for b in held) / len(held) for name in ('loss_heatmap',)]
    torch.testing.assert_close(objective.match_targets, torch.tensor(expected))
    # the original fits its training samples better than samples it never saw
    assert camera_log_losses(teacher, forget)['loss_heatmap'] < objective.match_targets[0].item()
    with pytest.raises(ValueError, match='held-out batches'):
        CCU(PCR, w_forget_match=1.0).prepass(original_model, teacher, [forget])
    with pytest.raises(ValueError, match='no held-out samples'):
        CCU(PCR, w_forget_match=1.0).prepass(original_model, teacher, [forget], holdout_batches=[])


def test_the_term_raises_the_forget_loss_while_below_the_level_and_is_zero_above_it(original_model, toy_sets):
    teacher = snapshot_teacher(original_model)
    retain = whole_batch(original_model, [toy_sets['retain']])
    forget = whole_batch(original_model, [toy_sets['forget']])
    now = camera_log_losses(original_model, forget)['loss_heatmap']
    objective = CCU(PCR, w_forget_match=2.0, **MATCH_ONLY)
    objective.match_targets = torch.tensor([now + 0.5])
    out = objective.loss(original_model, teacher, retain, forget)
    torch.testing.assert_close(out['loss_forget_match'], torch.tensor(2.0 * 0.5), rtol=1e-4, atol=1e-4)
    assert [k for k in out if 'loss' in k] == ['loss_forget_match']
    # a gradient step on the term raises the camera's loss on the forget samples
    params = [p for p in original_model.camera_encoder.parameters()]
    grads = torch.autograd.grad(out['loss_forget_match'], params)
    assert any(g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(0.05 * g)
    assert camera_log_losses(original_model, forget)['loss_heatmap'] > now
    # at or above the level: nothing to do, no gradient
    objective.match_targets = torch.tensor([now - 5.0])
    out = objective.loss(original_model, teacher, retain, forget)
    assert out['loss_forget_match'].item() == 0.0 and out['ccu_forget_match_shortfall'].item() == 0.0


def test_levels_that_do_not_fit_the_detector_s_losses_are_refused(original_model, toy_sets):
    teacher = snapshot_teacher(original_model)
    batch = whole_batch(original_model, [toy_sets['forget']])
    objective = CCU(PCR, w_forget_match=1.0, **MATCH_ONLY)
    objective.match_targets = torch.tensor([0.0, 0.0])  # two levels, one camera-only loss
    with pytest.raises(RuntimeError, match='1 camera-only losses'):
        objective.loss(original_model, teacher, batch, batch)


def test_holdout_batches_read_every_held_out_sample_or_an_even_share(toy_sets, held_out):
    paired = PairedDataset(toy_sets['retain'], toy_sets['forget'], holdout=held_out)
    batches = list(holdout_batches(paired, 4))
    assert [len(b['data_samples']) for b in batches] == [4, 2]
    assert [len(b['data_samples']) for b in holdout_batches(paired, 2, num_samples=3)] == [2, 1]
    with pytest.raises(ValueError, match='no held-out samples'):
        holdout_batches(PairedDataset(toy_sets['retain'], toy_sets['forget']), 4)


def test_a_run_reads_the_held_out_samples_once_and_resumes_with_the_same_levels(tmp_path, toy_sets, held_out,
                                                                               original_ckpt):
    kwargs = dict(original=original_ckpt, holdout=held_out, checkpoint_interval=2,
                  objective=dict(type='CCU', point_cloud_range=PCR, w_forget_match=1.0))
    first = make_runner(tmp_path / 'w', toy_sets, max_iters=2, **kwargs)
    first.train()
    levels = first.model.objective.match_targets.clone()
    assert levels.shape == (1,) and torch.isfinite(levels).all()
    resumed = make_runner(tmp_path / 'w', toy_sets, max_iters=3, resume=True, **kwargs)
    resumed.train()
    assert torch.equal(resumed.model.objective.match_targets, levels)
    with pytest.raises(ValueError, match='no held-out samples'):
        make_runner(tmp_path / 'x', toy_sets, max_iters=1, **dict(kwargs, holdout=None)).train()


def test_per_sample_matching_averages_each_sample_s_own_shortfall(original_model, toy_sets, held_out):
    teacher = snapshot_teacher(original_model)
    retain = whole_batch(original_model, [toy_sets['retain']])
    forget = whole_batch(original_model, [toy_sets['forget']])
    held = whole_batch(original_model, [held_out])
    objective = CCU(PCR, w_forget_match=1.0, match_per_sample=True, **MATCH_ONLY)
    objective.prepass(original_model, teacher, [forget], holdout_batches=split(held, 4))
    # the levels are the mean over held-out samples measured one at a time
    singles = [camera_log_losses(teacher, b)['loss_heatmap'] for b in split(held, 1)]
    torch.testing.assert_close(objective.match_targets, torch.tensor([sum(singles) / len(singles)]))
    level = objective.match_targets[0].item()
    own = [camera_log_losses(original_model, b)['loss_heatmap'] for b in split(forget, 1)]
    out = objective.loss(original_model, teacher, retain, forget)
    expected = sum(max(0.0, level - v) for v in own) / len(own)
    assert expected > 0
    torch.testing.assert_close(out['loss_forget_match'], torch.tensor(expected), rtol=1e-4, atol=1e-5)
    # per batch the same samples give the batch loss's shortfall, which differs
    per_batch = CCU(PCR, w_forget_match=1.0, **MATCH_ONLY)
    per_batch.match_targets = objective.match_targets.clone()
    batch_level = max(0.0, level - camera_log_losses(original_model, forget)['loss_heatmap'])
    torch.testing.assert_close(per_batch.loss(original_model, teacher, retain, forget)['loss_forget_match'],
                               torch.tensor(batch_level), rtol=1e-4, atol=1e-5)
    assert abs(batch_level - expected) > 1e-3
