"""The baselines with a pre-pass or a teacher (SalUn, SSD, SCRUB, MultiDelete) on the tiny
detector: SalUn's saliency mask against a slow reference, exact under AdamW with weight decay and
back on resume; SSD's dampening by hand and on the toy world; SCRUB's distance and phases, and an
exact resume across them; MultiDelete's terms and direction; the pre-pass reading the retain set;
their configs."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch.distributions import Bernoulli, kl_divergence

from ccu_av.unlearning import OBJECTIVES, FineTune, PairedDataset
from ccu_av.unlearning.objectives import SCRUB, SSD, MultiDelete, SalUn
from ccu_av.unlearning.objectives.multidelete import mismatched_fusion
from ccu_av.unlearning.objectives.scrub import bernoulli_kl
from ccu_av.unlearning.objectives.ssd import dampening_factors
from ccu_av.unlearning.paired_data import forget_batches, retain_batches
from ccu_av.unlearning.teacher import snapshot_teacher
from tiny_ccu_model import accuracy, whole_batch
from toy_runner import make_runner

TOY_CLASSES = ('car', 'pedestrian')
CONFIGS = Path(__file__).resolve().parents[3] / 'configs' / 'unlearn'
ADAMW_DECAY = dict(type='AdamW', lr=0.05, weight_decay=0.5)


def batches_of(model, dataset):
    """Every sample of ``dataset`` once, one preprocessed batch each (as the hook's pre-pass)."""
    return [model.data_preprocessor(b) for b in forget_batches(PairedDataset(dataset, dataset), 1)]


def reference_gradients(model, batches, power):
    """Slow and obvious: ``.backward()`` per batch on the head loss, ``.grad ** power`` summed."""
    sums = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for batch in batches:
        model.zero_grad()
        fused = model.extract_modal_feats(batch['inputs'], batch['data_samples'])['fused']
        model.head_loss(fused, batch['data_samples'])['loss_heatmap'].backward()
        for name, p in model.named_parameters():
            sums[name] += p.grad ** power
    model.zero_grad()
    return sums


@pytest.fixture
def batches(original_model, toy_sets):
    """(retain, forget): every sample of each set as one preprocessed batch."""
    return (whole_batch(original_model, [toy_sets['retain']]),
            whole_batch(original_model, [toy_sets['forget']]))


# ---------------------------------------------------------------------------------------- SalUn
def test_salun_keeps_the_requested_fraction_of_largest_forget_gradients(original_model, toy_sets):
    salun = SalUn(TOY_CLASSES, saliency_fraction=0.3)
    forget = batches_of(original_model, toy_sets['forget'])
    salun.prepass(original_model, snapshot_teacher(original_model), iter(forget))
    mask = salun.update_mask(original_model)
    grads = reference_gradients(original_model, forget, power=1)
    ranked = sorted(((abs(float(v)), name, i) for name, g in grads.items()
                     for i, v in enumerate(g.flatten())), reverse=True)
    k = round(0.3 * len(ranked))
    expected = {name: torch.zeros_like(g, dtype=torch.bool) for name, g in grads.items()}
    for _, name, i in ranked[:k]:
        expected[name].view(-1)[i] = True
    assert ranked[k - 1][0] > ranked[k][0]  # no tie at the threshold: the reference is unique
    assert set(mask) == set(expected)
    for name in expected:
        assert torch.equal(mask[name], expected[name]), name
    assert sum(int(m.sum()) for m in mask.values()) == k
    assert all(p.grad is None for p in original_model.parameters())  # the pre-pass leaves no grads


def test_salun_moves_only_salient_weights_under_adamw_with_weight_decay(
        tmp_path, toy_sets, original_ckpt, original_state):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=4, original=original_ckpt,
                         objective=dict(type='SalUn', classes=TOY_CLASSES), frozen_modules=(),
                         optimizer=ADAMW_DECAY)
    runner.train()
    mask = runner.model.objective.update_mask(runner.model.student)
    salient = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    assert 0.45 < salient < 0.55
    student = runner.model.student.state_dict()
    for name, allowed in mask.items():
        before, after = original_state[name], student[name]
        assert torch.equal(after[~allowed], before[~allowed]), name  # not one ulp
        assert (after[allowed] != before[allowed]).all(), name  # the salient ones trained


def test_salun_mask_comes_back_on_resume_without_a_second_prepass(tmp_path, toy_sets, original_ckpt,
                                                                  monkeypatch):
    calls = []
    prepass = SalUn.prepass
    monkeypatch.setattr(SalUn, 'prepass',
                        lambda self, *a, **k: calls.append(1) or prepass(self, *a, **k))
    kwargs = dict(original=original_ckpt, objective=dict(type='SalUn', classes=TOY_CLASSES),
                  frozen_modules=(), optimizer=ADAMW_DECAY)
    straight = make_runner(tmp_path / 'straight', toy_sets, max_iters=4, **kwargs)
    straight.train()
    killed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=2, checkpoint_interval=2,
                         **kwargs)
    killed.train()
    resumed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=4, resume=True, **kwargs)
    resumed.train()
    assert len(calls) == 2  # the straight run's and the killed run's; none on resume
    masks = [r.model.objective.update_mask(r.model.student) for r in (straight, resumed)]
    assert masks[0].keys() == masks[1].keys()
    assert all(torch.equal(masks[0][n], masks[1][n]) for n in masks[0])
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


# ------------------------------------------------------------------------------------------ SSD
def test_ssd_dampening_factors_by_hand():
    forget = torch.tensor([1.0, 10.0, 30.0, 0.0, 5.0])
    glob = torch.tensor([1.0, 2.0, 2.0, 0.0, 2.5])
    # alpha 2: selected where forget > 2 * global (10 > 4, 30 > 4; not 1 > 2, 0 > 0, 5 > 5)
    factors = dampening_factors(forget, glob, alpha=2.0, dampening=1.0)
    assert torch.allclose(factors, torch.tensor([1.0, 0.2, 2.0 / 30.0, 1.0, 1.0]))
    # lambda 10: 10 * 2 / 10 = 2 is bounded by 1 (a weight never grows)
    assert dampening_factors(forget, glob, alpha=2.0, dampening=10.0)[1] == 1.0


def test_ssd_dampens_exactly_the_selected_weights_and_forgets_the_forget_cameras(
        tmp_path, toy_sets, original_ckpt, original_model, original_state):
    alpha = 2.0
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=0, original=original_ckpt,
                         objective=dict(type='SSD', alpha=alpha), frozen_modules=())
    runner.train()  # 0 iterations: the hook's pre-pass is the whole method
    student = runner.model.student
    forget = reference_gradients(original_model, batches_of(original_model, toy_sets['forget']), 2)
    retain = reference_gradients(original_model, batches_of(original_model, toy_sets['retain']), 2)
    F, R = len(toy_sets['forget']), len(toy_sets['retain'])
    dampened = 0
    for name, before in original_state.items():
        imp_f, imp_d = forget[name] / F, (forget[name] + retain[name]) / (F + R)
        selected = imp_f > alpha * imp_d
        after = student.state_dict()[name]
        assert torch.equal(after[~selected], before[~selected]), name  # bit-identical
        factor = (imp_d[selected] / imp_f[selected]).clamp(max=1)
        assert torch.allclose(after[selected], before[selected] * factor, rtol=1e-4, atol=1e-7)
        dampened += int(selected.sum())
    assert 0 < dampened == int(runner.model.objective.num_dampened) < sum(
        v.numel() for v in original_state.values())
    before = accuracy(original_model, toy_sets['forget'], 'camera')
    assert accuracy(student, toy_sets['forget'], 'camera') < before - 0.1


def test_ssd_refuses_to_train(tmp_path, toy_sets, original_ckpt):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=1, original=original_ckpt,
                         objective=dict(type='SSD'), frozen_modules=())
    with pytest.raises(RuntimeError, match='SSD does not train.*max_iters=0'):
        runner.train()


@OBJECTIVES.register_module(name='ToyRetainPrepass', force=True)
class ToyRetainPrepass(FineTune):
    """Records which samples its pre-pass sees."""

    has_prepass = True
    prepass_reads_retain = True
    seen = {}

    def prepass(self, student, teacher, forget_batches, retain_batches=None):
        ToyRetainPrepass.seen = {
            name: [ds.metainfo['sample_idx'] for b in batches for ds in b['data_samples']]
            for name, batches in (('forget', forget_batches), ('retain', retain_batches))}


def test_the_hook_hands_evenly_spaced_retain_batches_to_a_prepass_that_reads_them(
        tmp_path, toy_sets, original_ckpt):
    make_runner(tmp_path / 'w', toy_sets, max_iters=0, original=original_ckpt,
                objective=dict(type='ToyRetainPrepass'), forget_batch_size=0,
                custom_hooks=[dict(type='UnlearningHook', prepass_retain_samples=4)]).train()
    assert ToyRetainPrepass.seen == dict(forget=list(range(6)), retain=[0, 3, 6, 9])
    dataset = PairedDataset(toy_sets['retain'], toy_sets['forget'])
    assert [len(b['data_samples']) for b in retain_batches(dataset, 5)] == [5, 5, 2]  # all 12


# ---------------------------------------------------------------------------------------- SCRUB
def test_bernoulli_kl_is_torch_s_per_cell_kl_summed_over_classes():
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    T = 4.0
    per_cell = kl_divergence(Bernoulli(logits=t / T), Bernoulli(logits=s / T))  # (B, K, Y, X)
    reference = T ** 2 * per_cell.sum(1).mean()
    assert torch.allclose(bernoulli_kl(s, t, T), reference, rtol=1e-5)


def test_scrub_distance_is_zero_at_the_teacher_and_its_forget_sign_follows_the_phase(original_model,
                                                                                      batches):
    teacher = snapshot_teacher(original_model)
    scrub = SCRUB(max_fraction=0.3, run_iters=10)  # 3 of 10 iterations are max steps
    assert scrub.max_steps() == 3
    at_teacher = scrub.loss(original_model, teacher, *batches, iteration=0)
    assert at_teacher['loss_retain_distill'].item() == 0
    assert at_teacher['loss_forget_distill'].item() == 0
    assert at_teacher['loss_retain_detection'] > 0
    with torch.no_grad():
        original_model.head.weight.add_(0.3 * torch.randn_like(original_model.head.weight))
    out = {i: scrub.loss(original_model, teacher, *batches, iteration=i) for i in (0, 2, 3, 10)}
    assert out[0]['loss_retain_distill'] > 0
    for i in (0, 2):  # max steps: the forget distance is maximised (a negative term)
        assert out[i]['loss_forget_distill'] < 0 and out[i]['scrub_max_step'] == 1
        assert torch.equal(out[i]['loss_forget_distill'], out[0]['loss_forget_distill'])
    for i in (3, 10):  # min steps: no forget term
        assert 'loss_forget_distill' not in out[i] and out[i]['scrub_max_step'] == 0
        assert torch.equal(out[i]['loss_retain_distill'], out[0]['loss_retain_distill'])


def test_scrub_resumes_exactly_across_the_phase_boundary(tmp_path, toy_sets, original_ckpt):
    kwargs = dict(original=original_ckpt, objective=dict(type='SCRUB', max_fraction=0.5),
                  frozen_modules=())
    straight = make_runner(tmp_path / 'straight', toy_sets, max_iters=4, **kwargs)
    straight.train()  # half of 4 iterations, from the run's length in the message hub
    assert straight.message_hub.get_scalar('train/scrub_max_step').data[0].tolist() == [1, 1, 0, 0]
    killed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=1, checkpoint_interval=1,
                         **kwargs)
    killed.train()
    resumed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=4, resume=True, **kwargs)
    resumed.train()  # iteration 1 a max step, 2 and 3 min steps
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


# ---------------------------------------------------------------------------------- MultiDelete
def test_multidelete_at_the_teacher_only_decoupling_is_nonzero(original_model, batches):
    teacher = snapshot_teacher(original_model)
    out = MultiDelete().loss(original_model, teacher, *batches, iteration=0)
    assert out['loss_multimodal'].item() == 0 and out['loss_unimodal'].item() == 0
    assert out['loss_decouple'] > 0  # the original fuses each forget camera with its own radar


def test_mismatched_pairs_fuse_forget_cameras_with_other_scenes_radar(original_model, batches):
    retain, forget = batches
    t_r, t_f = (original_model.extract_modal_feats(b['inputs'], b['data_samples']) for b in batches)
    mixed = mismatched_fusion(original_model, t_f, t_r)  # 6 forget samples, 12 retain
    for b in range(6):
        expected = original_model.fuse_modal_feats(t_f['camera'][b:b + 1], t_r['radar'][b:b + 1])
        assert torch.allclose(mixed[b:b + 1], expected, atol=1e-6)


def test_multidelete_moves_forget_fusion_towards_the_mismatched_pairs(
        tmp_path, toy_sets, original_ckpt, original_model, batches):
    def decoupling(student):
        return MultiDelete().loss(student, original_model, *batches, iteration=0)['loss_decouple']

    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=10, original=original_ckpt,
                         objective=dict(type='MultiDelete'), frozen_modules=())
    runner.train()
    with torch.no_grad():
        assert decoupling(runner.model.student) < 0.8 * decoupling(original_model)


# -------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize('name, cls', [('salun', SalUn), ('ssd', SSD), ('scrub', SCRUB),
                                       ('multidelete', MultiDelete)])
def test_configs_build_their_objective(name, cls):
    cfg = Config.fromfile(str(CONFIGS / f'{name}_bevfusion.py'))
    assert type(OBJECTIVES.build(cfg.model.objective)) is cls
    assert cfg.model.type == 'UnlearningModel'
    assert cfg.train_cfg.max_iters == (0 if cls is SSD else cfg.max_iters)
