"""CCU's object-match term (``w_object_match``): each forget sample's camera-only confidence at its
own objects is lowered to the original's level at the objects of held-out samples, and no
further; the level comes from the pre-pass and comes back with a checkpoint."""
import math

import pytest
import torch
from torch import nn

from ccu_av.unlearning.objectives import CCU
from ccu_av.unlearning.teacher import snapshot_teacher
from test_forget_match import MATCH_ONLY, split
from tiny_ccu_model import CELL, PCR, ToyBEVDataset, whole_batch
from toy_runner import make_runner


@pytest.fixture
def held_out():
    """Samples of the forget set's location (0) that the original never trained on."""
    return ToyBEVDataset(locations=(0,), num_samples=6, seed=11)


def object_log_nll(model, batch):
    """Each sample's log mean softplus(-logit) of its objects' classes at their cells, camera
    alone, written out independently of the objective (the toy's boxes each fit one cell)."""
    with torch.no_grad(), model.use_modality('camera'):
        logits = model(batch['inputs'], batch['data_samples'])  # (B, K, Y, X)
    out = []
    for b, ds in enumerate(batch['data_samples']):
        xy = ds.gt_instances_3d.bboxes_3d.tensor[:, :2]
        ix = ((xy[:, 0] - PCR[0]) / CELL).long()
        iy = ((xy[:, 1] - PCR[1]) / CELL).long()
        h = logits[b, ds.gt_instances_3d.labels_3d, iy, ix]
        out.append(math.log(float(nn.functional.softplus(-h).mean()) + 1e-6))
    return out


def test_the_prepass_stores_the_teacher_s_mean_log_object_nll_over_held_out_samples(original_model, toy_sets, held_out):
    teacher = snapshot_teacher(original_model)
    objective = CCU(PCR, w_object_match=1.0)
    assert objective.prepass_reads_holdout and not objective.prepass_reads_retain
    held = whole_batch(original_model, [held_out])
    forget = whole_batch(original_model, [toy_sets['forget']])
    objective.prepass(original_model, teacher, [forget], holdout_batches=split(held, 4))
    singles = object_log_nll(teacher, held)
    torch.testing.assert_close(objective.object_match_target, torch.tensor([sum(singles) / len(singles)]))
    assert objective.match_targets.numel() == 0  # the loss-level term is off: nothing measured for it
    # the original is more confident at the objects it trained on than at unseen ones
    own = object_log_nll(teacher, forget)
    assert sum(own) / len(own) < objective.object_match_target.item()
    with pytest.raises(ValueError, match='held-out batches'):
        CCU(PCR, w_object_match=1.0).prepass(original_model, teacher, [forget])
    with pytest.raises(ValueError, match='no held-out samples with objects'):
        CCU(PCR, w_object_match=1.0).prepass(original_model, teacher, [forget], holdout_batches=[])


def test_the_term_averages_each_sample_s_shortfall_and_lowers_the_camera_s_confidence(original_model, toy_sets):
    teacher = snapshot_teacher(original_model)
    retain = whole_batch(original_model, [toy_sets['retain']])
    forget = whole_batch(original_model, [toy_sets['forget']])
    own = object_log_nll(original_model, forget)
    level = sorted(own)[len(own) // 2]  # half the samples below it, half at or above
    objective = CCU(PCR, w_object_match=2.0, **MATCH_ONLY)
    objective.object_match_target = torch.tensor([level])
    out = objective.loss(original_model, teacher, retain, forget)
    expected = 2.0 * sum(max(0.0, level - v) for v in own) / len(own)
    assert expected > 0
    torch.testing.assert_close(out['loss_object_match'], torch.tensor(expected), rtol=1e-4, atol=1e-5)
    assert [k for k in out if 'loss' in k] == ['loss_object_match']
    # a gradient step lowers the confidence of the samples below the level; the radar is untouched
    params = list(original_model.camera_encoder.parameters())
    grads = torch.autograd.grad(out['loss_object_match'], params)
    radar = torch.autograd.grad(objective.loss(original_model, teacher, retain, forget)['loss_object_match'],
                                list(original_model.radar_encoder.parameters()), allow_unused=True)
    assert all(g is None or g.abs().sum() == 0 for g in radar)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(0.05 * g)
    after = object_log_nll(original_model, forget)
    below = [i for i, v in enumerate(own) if v < level]
    assert sum(after[i] for i in below) > sum(own[i] for i in below)
    # every sample at or above the level: nothing to do
    objective.object_match_target = torch.tensor([min(after) - 1.0])
    out = objective.loss(original_model, teacher, retain, forget)
    assert out['loss_object_match'].item() == 0.0 and out['ccu_object_match_shortfall'].item() == 0.0


def test_the_term_refuses_to_run_without_its_level(original_model, toy_sets):
    teacher = snapshot_teacher(original_model)
    batch = whole_batch(original_model, [toy_sets['forget']])
    with pytest.raises(RuntimeError, match='no held-out level'):
        CCU(PCR, w_object_match=1.0, **MATCH_ONLY).loss(original_model, teacher, batch, batch)


def test_a_run_measures_the_level_once_and_resumes_with_it(tmp_path, toy_sets, held_out, original_ckpt):
    kwargs = dict(original=original_ckpt, holdout=held_out, checkpoint_interval=2,
                  objective=dict(type='CCU', point_cloud_range=PCR, w_object_match=1.0, w_forget_match=1.0))
    first = make_runner(tmp_path / 'w', toy_sets, max_iters=2, **kwargs)
    first.train()
    level, losses = first.model.objective.object_match_target.clone(), first.model.objective.match_targets.clone()
    assert level.shape == (1,) and torch.isfinite(level).all() and losses.shape == (1,)
    resumed = make_runner(tmp_path / 'w', toy_sets, max_iters=3, resume=True, **kwargs)
    resumed.train()
    assert torch.equal(resumed.model.objective.object_match_target, level)
    assert torch.equal(resumed.model.objective.match_targets, losses)
