"""The CCU objective on the tiny detector, through the modal interface only."""
from collections import Counter

import pytest
import torch

from ccu_av.unlearning.objectives import CCU, sum_head_losses, without_objects
from ccu_av.unlearning.teacher import snapshot_teacher
from tiny_ccu_model import PCR, whole_batch

TERMS = ('loss_unlearn', 'loss_spread', 'loss_radar_embedding', 'loss_radar_bev',
         'loss_radar_detection', 'loss_retain_structure', 'loss_separation', 'loss_forget_fusion')
ALL_ON = dict(w_camera_forget=1.0, w_retain_features=1.0)  # the two terms off by default


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
    teacher_calls = record_modalities(teacher)
    out = CCU(PCR, **ALL_ON).loss(original_model, teacher, *batches)
    assert set(TERMS) | {'loss_camera_forget', 'loss_retain_features'} <= set(out)
    # one fusion-mode pass of each model per batch: single modalities come from fuse_modal_feats
    assert calls == Counter(fusion=2) and teacher_calls == Counter(fusion=2)

    calls.clear()
    teacher_calls.clear()
    only_det = CCU(PCR, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
                   w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0)
    out = only_det.loss(original_model, teacher, *batches)
    assert [k for k in out if 'loss' in k] == ['retain_loss_heatmap']
    assert calls == Counter(fusion=1)  # no forget pass


def test_camera_forget_empties_the_camera_only_heatmap_and_leaves_the_radar_branch(original_model, batches):
    retain, forget = batches
    teacher = snapshot_teacher(original_model)
    ccu = CCU(PCR, w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
              w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0, w_camera_forget=1.0)

    def camera_only_scores():
        with original_model.use_modality('camera'), torch.no_grad():
            return original_model(forget['inputs'], forget['data_samples']).sigmoid().mean().item()

    before = camera_only_scores()
    out = ccu.loss(original_model, teacher, retain, forget)
    assert [k for k in out if 'loss' in k] == ['loss_camera_forget'] and out['loss_camera_forget'] > 0
    out['loss_camera_forget'].backward()
    assert original_model.radar_encoder.weight.grad is None or not original_model.radar_encoder.weight.grad.any()
    assert original_model.camera_encoder.weight.grad.abs().sum() > 0
    with torch.no_grad():
        for p in original_model.parameters():
            if p.grad is not None:
                p -= 0.5 * p.grad
    assert camera_only_scores() < before


def test_retain_features_are_zero_at_the_teacher_and_grow_when_the_student_moves(original_model, batches):
    teacher = snapshot_teacher(original_model)
    only = dict(w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0, w_radar_detection=0,
                w_retain_structure=0, w_separation=0, w_forget_fusion=0, w_retain_features=1.0)
    out = CCU(PCR, **only).loss(original_model, teacher, *batches)
    assert [k for k in out if 'loss' in k] == ['loss_retain_features']
    assert out['loss_retain_features'].item() == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        original_model.camera_encoder.weight.mul_(1.5)
    moved = CCU(PCR, **only).loss(original_model, teacher, *batches)['loss_retain_features']
    assert moved.item() > 0.01
    moved.backward()
    assert original_model.camera_encoder.weight.grad.abs().sum() > 0


def test_without_objects_empties_copies_and_keeps_the_originals(batches):
    samples = batches[1]['data_samples']
    counts = [len(ds.gt_instances_3d) for ds in samples]
    empty = without_objects(samples)
    assert [len(ds.gt_instances_3d) for ds in empty] == [0] * len(samples)
    assert [len(ds.gt_instances_3d) for ds in samples] == counts and min(counts) > 0
    assert [ds.metainfo['sample_idx'] for ds in empty] == [ds.metainfo['sample_idx'] for ds in samples]


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
    model, retain, forget, pcr = _project_detector()
    teacher = snapshot_teacher(model)

    out = CCU(pcr, **ALL_ON).loss(model, teacher, retain, forget)
    assert set(TERMS) | {'loss_camera_forget', 'loss_retain_features'} <= set(out)
    assert any(k.startswith('retain_') for k in out)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert out['ccu_forget_objects'].item() > 0
    sum(v for k, v in out.items() if 'loss' in k).backward()
    assert model.img_backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def _project_detector():
    """A shrunk CamRadarBEVFusion (the model tests' fixtures) and two of its batches."""
    import importlib.util
    from pathlib import Path

    from mmdet3d.registry import MODELS

    path = Path(__file__).parents[1] / 'models' / 'model_fixtures.py'
    spec = importlib.util.spec_from_file_location('unlearning_model_fixtures_image', path)
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    cfg = fixtures.tiny_model_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    retain = dict(zip(('inputs', 'data_samples'), fixtures.make_batch(seed=0)))
    forget = dict(zip(('inputs', 'data_samples'), fixtures.make_batch(seed=1)))
    return model, retain, forget, cfg['view_transform']['point_cloud_range']


def test_image_forget_trains_the_image_plane_head_that_the_bev_terms_never_reach():
    model, retain, forget, pcr = _project_detector()
    teacher = snapshot_teacher(model)
    bev_only = CCU(pcr, **ALL_ON).loss(model, teacher, retain, forget)
    sum(v for k, v in bev_only.items() if 'loss' in k).backward()
    assert all(p.grad is None or not p.grad.any() for p in model.img_aux_head.parameters())
    model.zero_grad(set_to_none=True)

    only_image = CCU(pcr, w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
                     w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0,
                     w_image_forget=1.0)

    def image_plane_scores():
        with torch.no_grad():
            feats = model.extract_image_feats(forget['inputs'], forget['data_samples'])
            return model.img_aux_head(feats).sigmoid().mean().item()

    before = image_plane_scores()
    out = only_image.loss(model, teacher, retain, forget)
    assert [k for k in out if 'loss' in k] == ['loss_image_forget'] and out['loss_image_forget'] > 0
    # against images without objects: the head's loss on the same images with their objects differs
    with torch.no_grad():
        feats = model.extract_image_feats(forget['inputs'], forget['data_samples'])
        with_objects = model.image_aux_loss(feats, forget['data_samples'])['loss_img_heatmap']
    assert out['loss_image_forget'].item() != pytest.approx(with_objects.item())
    out['loss_image_forget'].backward()
    assert any(p.grad is not None and p.grad.any() for p in model.img_aux_head.parameters())
    assert model.img_backbone.conv1.weight.grad.abs().sum() > 0
    assert model.radar_encoder.parameters().__next__().grad is None
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= 0.05 * p.grad / (p.grad.norm() + 1e-12)
    assert image_plane_scores() < before
    assert all(p.grad is None for p in teacher.parameters())


def test_image_retain_is_the_image_plane_heads_own_loss_on_the_retain_images():
    model, retain, forget, pcr = _project_detector()
    teacher = snapshot_teacher(model)
    off = dict(w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
               w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0)
    out = CCU(pcr, **off, w_image_retain=2.0).loss(model, teacher, retain, forget)
    assert [k for k in out if 'loss' in k] == ['loss_image_retain']
    with torch.no_grad():  # the same images and their true objects, through the interface
        feats = model.extract_image_feats(retain['inputs'], retain['data_samples'])
        own = model.image_aux_loss(feats, retain['data_samples'])['loss_img_heatmap']
    assert out['loss_image_retain'].item() == pytest.approx(2.0 * own.item(), rel=1e-5)
    out['loss_image_retain'].backward()
    assert any(p.grad is not None and p.grad.any() for p in model.img_aux_head.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    assert 'loss_image_retain' not in CCU(pcr, **off).loss(model, teacher, retain, forget)  # off by default


def test_image_forget_weighs_each_sample_by_its_support():
    model, retain, forget, pcr = _project_detector()
    teacher = snapshot_teacher(model)
    ccu = CCU(pcr, w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
              w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0,
              w_image_forget=1.0, support_quantile=0.5)
    tokens = [f'forget-{i}' for i in range(len(forget['data_samples']))]
    for ds, token in zip(forget['data_samples'], tokens):
        ds.set_metainfo(dict(token=token))
    from ccu_av.unlearning import support as S
    ccu.forget_keys = torch.tensor([S.token_key(t) for t in tokens], dtype=torch.long)
    ccu.forget_weights = torch.ones(len(tokens))
    full = ccu.loss(model, teacher, retain, forget)['loss_image_forget']
    ccu.forget_weights = torch.zeros(len(tokens))
    assert ccu.loss(model, teacher, retain, forget)['loss_image_forget'].item() == pytest.approx(0.0, abs=1e-7)
    unweighted = CCU(pcr, w_detection=0, w_unlearn=0, w_spread=0, w_radar_embedding=0, w_radar_bev=0,
                     w_radar_detection=0, w_retain_structure=0, w_separation=0, w_forget_fusion=0,
                     w_image_forget=1.0).loss(model, teacher, retain, forget)['loss_image_forget']
    assert full.item() == pytest.approx(unweighted.item(), rel=1e-5)  # weights of 1: the batch's loss


def test_image_forget_needs_the_interfaces_image_aux_loss(original_model, batches):
    teacher = snapshot_teacher(original_model)
    with pytest.raises(TypeError, match='has no image_aux_loss'):
        CCU(PCR, w_image_forget=1.0).loss(original_model, teacher, *batches)
