"""The baseline objectives (NegGrad, NegGrad+, random labels, l1-sparse) on the tiny detector:
their losses by hand, the direction of a few Runner steps, NegGrad's bound, an exact resume, and
their configs."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes

from ccu_av.unlearning.objectives import (OBJECTIVES, FineTune, L1Sparse, NegGrad, NegGradPlus,
                                          RandomLabels)
from tiny_ccu_model import TinyCamRadar, accuracy, pretrain, whole_batch
from toy_runner import make_runner

TOY_CLASSES = ('car', 'pedestrian')  # the toy world's two classes
CONFIGS = Path(__file__).resolve().parents[3] / 'configs' / 'unlearn'


def toy_head_loss(model, batch, samples=None):
    """The tiny detector's fusion-mode BCE written out from its modules (the reference)."""
    inputs = batch['inputs']
    cam, radar = model.camera_encoder(inputs['cam']), model.radar_encoder(inputs['radar'])
    logits = model.head(model.fuser(torch.cat([cam, radar], 1)))  # (B, classes, Y, X)
    samples = batch['data_samples'] if samples is None else samples
    return F.binary_cross_entropy_with_logits(logits, model.targets(samples, logits))


@pytest.fixture
def batches(original_model, toy_sets):
    """(retain, forget): every sample of each set as one preprocessed batch."""
    return (whole_batch(original_model, [toy_sets['retain']]),
            whole_batch(original_model, [toy_sets['forget']]))


def history(runner, name):
    """The value of a logged term at every iteration of the run."""
    return runner.message_hub.get_scalar(f'train/{name}').data[0].tolist()


def samples_with_labels(labels):
    """One data sample holding boxes with the given labels."""
    sample = Det3DDataSample()
    boxes = LiDARInstance3DBoxes(torch.rand(len(labels), 7))
    sample.gt_instances_3d = InstanceData(bboxes_3d=boxes, labels_3d=torch.tensor(labels))
    return [sample]


# ------------------------------------------------------------------------------------ NegGrad
def test_neggrad_is_minus_the_forget_head_loss_below_the_bound(original_model, batches):
    retain, forget = batches
    out = NegGrad().loss(original_model, original_model, retain, forget, iteration=0)
    expected = toy_head_loss(original_model, forget)
    assert set(out) == {'forget_loss_heatmap', 'forget_detection'}
    assert 0 < expected < 5.0
    assert torch.allclose(out['forget_loss_heatmap'], -expected, rtol=0, atol=1e-7)
    assert torch.allclose(out['forget_detection'], expected, rtol=0, atol=1e-7)
    assert not out['forget_detection'].requires_grad  # logged only
    # its gradient is the descent gradient reversed
    weight = original_model.camera_encoder.weight
    ascent = torch.autograd.grad(out['forget_loss_heatmap'], weight)[0]
    descent = torch.autograd.grad(expected, weight)[0]
    assert ascent.abs().sum() > 0
    assert torch.allclose(ascent, -descent, atol=1e-8)


def test_above_the_bound_a_term_is_the_bound_and_stops_ascending(original_model, batches):
    retain, forget = batches
    value = toy_head_loss(original_model, forget).item()
    out = NegGrad(max_forget_loss=value / 2).loss(original_model, original_model, retain, forget, 0)
    assert out['forget_loss_heatmap'].item() == pytest.approx(-value / 2)
    assert out['forget_detection'].item() == pytest.approx(value)  # the unbounded term, logged
    grads = torch.autograd.grad(out['forget_loss_heatmap'], list(original_model.parameters()),
                                allow_unused=True)
    assert all(g is None or not g.any() for g in grads)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match='max_forget_loss must be positive'):
            NegGrad(max_forget_loss=bad)


def test_neggrad_steps_unlearn_the_forget_set_and_never_pass_the_bound(
        tmp_path, toy_sets, original_ckpt, original_model):
    bound = 0.2
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=12, original=original_ckpt,
                         objective=dict(type='NegGrad', max_forget_loss=bound), frozen_modules=())
    runner.train()
    model, forget = runner.model.student, toy_sets['forget']
    for modality in ('fusion', 'camera'):
        fallen = accuracy(original_model, forget, modality) - 0.1
        assert accuracy(model, forget, modality) <= fallen, modality
    assert min(history(runner, 'forget_loss_heatmap')) >= -bound - 1e-6
    assert max(history(runner, 'forget_detection')) > bound  # the bound was reached and held


# ----------------------------------------------------------------------------------- NegGrad+
@pytest.mark.parametrize('alpha', [0.95, 0.3])
def test_neggrad_plus_is_alpha_retain_minus_one_minus_alpha_forget(original_model, batches, alpha):
    retain, forget = batches
    out = NegGradPlus(alpha=alpha).loss(original_model, original_model, retain, forget, 0)
    assert set(out) == {'retain_loss_heatmap', 'forget_loss_heatmap', 'forget_detection'}
    r, f = toy_head_loss(original_model, retain), toy_head_loss(original_model, forget)
    assert torch.allclose(out['retain_loss_heatmap'], alpha * r, rtol=0, atol=1e-7)
    assert torch.allclose(out['forget_loss_heatmap'], -(1 - alpha) * f, rtol=0, atol=1e-7)
    capped = NegGradPlus(alpha=alpha, max_forget_loss=f.item() / 2).loss(
        original_model, original_model, retain, forget, 0)
    assert capped['forget_loss_heatmap'].item() == pytest.approx(-(1 - alpha) * f.item() / 2)
    with pytest.raises(ValueError, match=r'alpha must lie in \[0, 1\]'):
        NegGradPlus(alpha=1.5)


def test_neggrad_plus_steps_keep_the_retain_set(tmp_path, toy_sets, original_ckpt, original_model):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=12, original=original_ckpt,
                         objective=dict(type='NegGradPlus'), frozen_modules=())
    runner.train()
    model, retain = runner.model.student, toy_sets['retain']
    for modality in ('fusion', 'camera'):
        kept = accuracy(original_model, retain, modality) - 0.06
        assert accuracy(model, retain, modality) >= kept, modality
    assert max(history(runner, 'forget_loss_heatmap')) < 0  # the forget set ascended at each step
    assert not torch.equal(model.camera_encoder.weight, original_model.camera_encoder.weight)


# ------------------------------------------------------------------------------ random labels
def test_random_labels_are_wrong_and_a_function_of_seed_and_iteration():
    classes = ('a', 'b', 'c', 'd', 'e')
    true = [k % 5 for k in range(40)]
    samples = samples_with_labels(true)
    objective = RandomLabels(classes, seed=3)

    def wrong(it, obj=objective):
        return obj.targets(samples, it)[0].gt_instances_3d.labels_3d

    assert (wrong(4) != torch.tensor(true)).all()
    assert ((wrong(4) >= 0) & (wrong(4) < 5)).all()
    assert torch.equal(wrong(4), wrong(4))
    assert torch.equal(wrong(4), wrong(4, RandomLabels(classes, seed=3)))  # a new instance too
    assert not torch.equal(wrong(4), wrong(5))
    assert not torch.equal(wrong(4), wrong(4, RandomLabels(classes, seed=4)))
    # every other class is drawn, over iterations
    drawn = torch.stack([wrong(it) for it in range(20)])  # (iterations, boxes)
    assert set(drawn[:, 0].tolist()) == {1, 2, 3, 4}
    assert samples[0].gt_instances_3d.labels_3d.tolist() == true  # the batch is left as it was
    # the global random states are neither read nor advanced
    torch.manual_seed(0)
    np.random.seed(0)
    before = torch.rand(1), np.random.rand()
    torch.manual_seed(0)
    np.random.seed(0)
    wrong(7)
    assert torch.equal(torch.rand(1), before[0]) and np.random.rand() == before[1]


def test_random_labels_empty_mode_and_bad_input():
    samples = samples_with_labels([0, 1, 1])
    empty = RandomLabels(TOY_CLASSES, mode='empty').targets(samples, 0)
    assert len(empty[0].gt_instances_3d) == 0
    assert len(samples[0].gt_instances_3d) == 3
    with pytest.raises(ValueError, match='labels_3d must index the 2 classes'):
        RandomLabels(TOY_CLASSES).targets(samples_with_labels([0, 2]), 0)
    with pytest.raises(ValueError, match='mode must be one of'):
        RandomLabels(TOY_CLASSES, mode='noise')
    with pytest.raises(ValueError, match='two or more classes'):
        RandomLabels(('car',))


@pytest.mark.parametrize('mode', ['wrong_class', 'empty'])
def test_random_labels_loss_is_retain_plus_forget_towards_wrong_targets(original_model, batches,
                                                                        mode):
    retain, forget = batches
    objective = RandomLabels(TOY_CLASSES, mode=mode)
    out = objective.loss(original_model, original_model, retain, forget, iteration=2)
    assert set(out) == {'retain_loss_heatmap', 'forget_loss_heatmap'}
    # the toy's two classes: the wrong class is the other one; empty: no objects
    wrong = [ds.clone() for ds in forget['data_samples']]
    for ds in wrong:
        gt = ds.gt_instances_3d
        ds.gt_instances_3d = gt[:0] if mode == 'empty' else InstanceData(
            bboxes_3d=gt.bboxes_3d, labels_3d=1 - gt.labels_3d)
    r, f = toy_head_loss(original_model, retain), toy_head_loss(original_model, forget, wrong)
    assert torch.allclose(out['retain_loss_heatmap'], r, rtol=0, atol=1e-7)
    assert torch.allclose(out['forget_loss_heatmap'], f, rtol=0, atol=1e-7)
    assert f > 5 * toy_head_loss(original_model, forget)  # far from the true targets' loss


def test_random_labels_steps_unlearn_the_forget_set(tmp_path, toy_sets, original_ckpt,
                                                    original_model):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=8, original=original_ckpt,
                         objective=dict(type='RandomLabels', classes=TOY_CLASSES),
                         frozen_modules=())
    runner.train()
    model, forget, retain = runner.model.student, toy_sets['forget'], toy_sets['retain']
    for modality in ('fusion', 'camera'):
        fallen = accuracy(original_model, forget, modality) - 0.1
        assert accuracy(model, forget, modality) <= fallen, modality
    assert accuracy(model, retain, 'fusion') >= accuracy(original_model, retain, 'fusion') - 0.06


class ThreeClassToy(TinyCamRadar):
    """The tiny detector with a third class that the toy world never shows: a relabelled box then
    has two wrong classes to draw from, so the draw matters."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Conv2d(self.head.in_channels, 3, 1)


@pytest.fixture
def three_class_ckpt(tmp_path, toy_sets):
    torch.manual_seed(0)
    model = ThreeClassToy()
    pretrain(model, [toy_sets['forget'], toy_sets['retain']], steps=60)
    path = tmp_path / 'original' / 'three_class.pth'
    path.parent.mkdir()
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def test_random_labels_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, toy_sets,
                                                                       three_class_ckpt):
    objective = dict(type='RandomLabels', classes=('car', 'pedestrian', 'cyclist'))

    def runner(name, max_iters, **kwargs):
        return make_runner(tmp_path / name, toy_sets, max_iters=max_iters,
                           original=three_class_ckpt, detector=ThreeClassToy(), frozen_modules=(),
                           objective=objective, **kwargs)

    straight = runner('straight', 8)
    straight.train()
    runner('resumed', 4, checkpoint_interval=4).train()
    resumed = runner('resumed', 8, resume=True)
    resumed.train()
    assert resumed.iter == straight.iter == 8
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    # the same wrong targets at iterations 4-7
    tail = history(straight, 'forget_loss_heatmap')[-4:]
    assert history(resumed, 'forget_loss_heatmap')[-4:] == tail


# -------------------------------------------------------------------------------- l1-sparse
def test_l1_penalty_is_gamma_t_times_the_trainable_weights_l1_norm(original_model, batches):
    retain, _ = batches
    original_model.radar_encoder.requires_grad_(False)  # as a frozen module: not penalised
    objective = L1Sparse(gamma=0.01, decay_iters=10)
    norm = sum(p.abs().sum() for name, p in original_model.named_parameters()
               if not name.startswith('radar_encoder'))
    for iteration, gamma in [(0, 0.01), (5, 0.005), (9, 0.001), (10, 0.0), (13, 0.0)]:
        out = objective.loss(original_model, original_model, retain, None, iteration)
        assert out['l1_gamma'].item() == pytest.approx(gamma, rel=1e-6, abs=1e-12)
        assert torch.allclose(out['loss_l1'], gamma * norm, rtol=1e-6, atol=0)
        assert torch.allclose(out['l1_norm'], norm.detach(), rtol=1e-6)
    assert out['loss_l1'].item() == 0.0  # from decay_iters on
    finetune = FineTune().loss(original_model, original_model, retain, None, 0)
    assert torch.equal(out['retain_loss_heatmap'], finetune['retain_loss_heatmap'])
    with pytest.raises(ValueError, match='decay_iters must be positive'):
        L1Sparse(decay_iters=0)


def test_l1_sparse_steps_shrink_the_weights_more_than_fine_tuning(tmp_path, toy_sets,
                                                                  original_ckpt):
    def l1_after(objective):
        runner = make_runner(tmp_path / objective['type'], toy_sets, max_iters=6,
                             original=original_ckpt, objective=objective, forget_batch_size=0,
                             frozen_modules=())
        runner.train()
        return runner, sum(p.abs().sum().item() for p in runner.model.student.parameters())

    # decay_iters None: the run's length (6), read from mmengine's message hub
    sparse, sparse_norm = l1_after(dict(type='L1Sparse', gamma=1e-2, decay_iters=None))
    _, finetune_norm = l1_after(dict(type='FineTune'))
    assert sparse_norm < 0.9 * finetune_norm
    assert history(sparse, 'l1_gamma') == pytest.approx([1e-2 * (1 - t / 6) for t in range(6)])


# ------------------------------------------------------------------------------------ configs
@pytest.mark.parametrize('name, cls', [('neggrad', NegGrad), ('neggrad_plus', NegGradPlus),
                                       ('random_labels', RandomLabels), ('l1_sparse', L1Sparse)])
def test_each_baseline_config_builds_its_objective(name, cls):
    cfg = Config.fromfile(str(CONFIGS / f'{name}_bevfusion.py'))
    assert cfg.model.type == 'UnlearningModel'
    objective = OBJECTIVES.build(cfg.model.objective)
    assert type(objective) is cls
    assert not cfg.model.get('frozen_modules')  # whole-model baselines
    forget_batch_size = cfg.train_dataloader.batch_sampler.get('forget_batch_size')
    assert (forget_batch_size == 0) == (not objective.needs_forget)
    if cls is L1Sparse:
        assert objective.decay_iters is None  # gamma reaches 0 at the end of the run, however long
    if cls is RandomLabels:
        assert objective.classes == tuple(cfg.class_names)
