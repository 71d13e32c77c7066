"""The CCU objective on the tiny detector, through the modal interface only."""
from collections import Counter

import pytest
import torch

from ccu_av.unlearning.ccu import CCU, sum_head_losses
from ccu_av.unlearning.teacher import snapshot_teacher
from tiny_ccu_model import PCR, whole_batch

TERMS = ('loss_unlearn', 'loss_spread', 'loss_radar_embedding', 'loss_radar_bev',
         'loss_radar_detection', 'loss_retain_structure', 'loss_separation', 'loss_forget_fusion')


@pytest.fixture
def batches(original_model, toy_sets):
    return (whole_batch(original_model, [toy_sets['retain']]),
            whole_batch(original_model, [toy_sets['forget']]))


def record_modalities(model):
    """Count extract_modal_feats calls per modality."""
    calls = Counter()
    inner = model.extract_modal_feats

    def wrapped(inputs, samples):
        calls[model.modality] += 1
        return inner(inputs, samples)

    model.extract_modal_feats = wrapped
    return calls


def test_at_the_teacher_only_unlearning_and_detection_are_nonzero(original_model, batches):
    teacher = snapshot_teacher(original_model)
    out = CCU(PCR).loss(original_model, teacher, *batches)
    assert set(TERMS) <= set(out)
    assert out['loss_unlearn'] > 0 and out['retain_loss_heatmap'] > 0 and out['loss_radar_detection'] > 0
    assert out['loss_forget_fusion'] > 0  # the original's fusion uses the forget cameras
    for name in ('loss_spread', 'loss_radar_embedding', 'loss_radar_bev', 'loss_retain_structure',
                 'loss_separation'):
        assert out[name].item() == pytest.approx(0.0, abs=1e-5), name
    assert out['ccu_forget_camera_cos'].item() == pytest.approx(1.0, abs=1e-5)
    assert out['ccu_forget_objects'].item() == 18  # 6 forget samples x 3 objects


def test_gradients_reach_the_student_and_never_the_teacher(original_model, batches):
    teacher = snapshot_teacher(original_model)
    out = CCU(PCR).loss(original_model, teacher, *batches)
    sum(v for k, v in out.items() if 'loss' in k).backward()
    assert original_model.camera_encoder.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
    assert not any(v.requires_grad for k, v in out.items() if k.startswith('ccu_'))


def test_weights_scale_terms_and_zero_weights_skip_their_passes(original_model, batches):
    teacher = snapshot_teacher(original_model)
    full = CCU(PCR).loss(original_model, teacher, *batches)
    doubled = CCU(PCR, w_unlearn=2.0).loss(original_model, teacher, *batches)
    assert doubled['loss_unlearn'].item() == pytest.approx(2 * full['loss_unlearn'].item(), rel=1e-5)

    calls = record_modalities(original_model)
    out = CCU(PCR, w_radar_bev=0, w_radar_detection=0, w_forget_fusion=0).loss(
        original_model, teacher, *batches)
    assert not {'loss_radar_bev', 'loss_radar_detection', 'loss_forget_fusion'} & set(out)
    assert calls == Counter(fusion=2)  # retain + forget; no radar-only pass

    calls.clear()
    only_det = CCU(PCR, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
                   w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0)
    out = only_det.loss(original_model, teacher, *batches)
    assert [k for k in out if 'loss' in k] == ['retain_loss_heatmap']
    assert calls == Counter(fusion=1)


def test_bad_weights_and_temperature_are_refused():
    with pytest.raises(ValueError, match="w_unlearn|'unlearn': -1"):
        CCU(PCR, w_unlearn=-1)
    with pytest.raises(ValueError, match='temperature'):
        CCU(PCR, temperature=0)


def test_sum_head_losses_counts_only_losses():
    total = sum_head_losses({'a.loss_x': torch.tensor(1.0), 'loss_y': [torch.tensor(2.0), torch.tensor(3.0)],
                             'acc': torch.tensor(100.0)})
    assert total.item() == 6.0


def test_on_the_project_detector_every_term_is_finite_and_trains_the_camera_branch():
    """CCU on a shrunk CamRadarBEVFusion (the model tests' fixtures), through the interface."""
    import importlib.util
    from pathlib import Path

    from mmdet3d.registry import MODELS

    path = Path(__file__).parents[1] / 'models' / 'model_fixtures.py'
    spec = importlib.util.spec_from_file_location('unlearning_model_fixtures', path)
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    cfg = fixtures.tiny_model_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    teacher = snapshot_teacher(model)
    retain = dict(zip(('inputs', 'data_samples'), fixtures.make_batch(seed=0)))
    forget = dict(zip(('inputs', 'data_samples'), fixtures.make_batch(seed=1)))
    pcr = cfg['view_transform']['point_cloud_range']

    out = CCU(pcr).loss(model, teacher, retain, forget)
    assert set(TERMS) <= set(out) and any(k.startswith('retain_') for k in out)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert out['ccu_forget_objects'].item() > 0
    sum(v for k, v in out.items() if 'loss' in k).backward()
    assert model.img_backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
