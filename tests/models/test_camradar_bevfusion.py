"""The fusion detector: losses, predictions, modality switching, bad input, training, determinism."""
import pytest
import torch

from ccu_av.models import CamRadarBEVFusion, check_modal_interface
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes

from model_fixtures import make_batch, tiny_model_cfg


def build(seed=0, **kw):
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg(**kw))
    model.init_weights()
    return model


def test_builds_from_the_registry_with_the_heatmap_prior(tiny_cfg):
    model = build()
    assert isinstance(model, CamRadarBEVFusion)
    for task_head in model.bbox_head.task_heads:
        assert torch.allclose(task_head.heatmap[-1].bias, torch.full_like(task_head.heatmap[-1].bias, -2.19))


def test_loss_has_head_and_camera_terms(batch):
    model = build().train()
    losses = model.loss(*batch)
    assert {'loss_depth', 'loss_img_heatmap', 'task0.loss_heatmap', 'task0.loss_bbox'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    # the prior keeps the first heatmap loss small (it is in the hundreds without it)
    assert losses['task0.loss_heatmap'] < 20


def test_predictions_are_lidar_boxes_with_velocity(batch):
    model = build().eval()
    with torch.no_grad():
        out = model.predict(*batch)
    assert len(out) == 2
    pred = out[0].pred_instances_3d
    assert isinstance(pred.bboxes_3d, LiDARInstance3DBoxes)
    assert pred.bboxes_3d.tensor.shape[1] == 9
    assert len(pred.scores_3d) == len(pred.labels_3d) == len(pred.bboxes_3d)


def test_modal_feats_shapes_and_interface(batch):
    model = build().eval()
    check_modal_interface(model, *batch)
    with torch.no_grad():
        feats = model.extract_modal_feats(*batch)
    assert feats['camera'].shape == (2, 16, 16, 16)
    assert feats['radar'].shape == (2, 8, 16, 16)
    assert feats['fused'].shape == (2, 32, 16, 16)


def fused(model, inputs, samples, modality):
    with model.use_modality(modality), torch.no_grad():
        return model.extract_modal_feats(inputs, samples)['fused']


def test_camera_only_ignores_radar_and_radar_only_ignores_cameras(batch):
    model = build().eval()
    inputs, samples = batch
    other_radar = dict(inputs, points=[p + torch.randn_like(p) for p in inputs['points']])
    other_imgs = dict(inputs, imgs=torch.rand_like(inputs['imgs']))
    assert torch.equal(fused(model, inputs, samples, 'camera'), fused(model, other_radar, samples, 'camera'))
    assert torch.equal(fused(model, inputs, samples, 'radar'), fused(model, other_imgs, samples, 'radar'))
    assert not torch.allclose(fused(model, inputs, samples, 'fusion'), fused(model, other_radar, samples, 'fusion'))
    assert not torch.allclose(fused(model, inputs, samples, 'fusion'), fused(model, other_imgs, samples, 'fusion'))
    # radar-only needs no images at all
    with model.use_modality('radar'), torch.no_grad():
        model.predict(dict(points=inputs['points']), samples)
    assert model.modality == 'fusion'


def test_camera_modes_need_images(batch):
    model = build().eval()
    inputs, samples = batch
    with pytest.raises(KeyError, match="no 'imgs'"), torch.no_grad():
        model.predict(dict(points=inputs['points']), samples)


def test_unknown_modality_is_refused():
    model = build()
    with pytest.raises(ValueError, match="modality must be one of"):
        model.modality = 'lidar'


def test_modality_dropout_zeroes_a_share_of_samples():
    model = build(radar_only_prob=0.25, camera_only_prob=0.30)
    torch.manual_seed(0)
    keep_cam, keep_radar = model._modality_dropout_masks(20000, 'cpu')
    assert abs((1 - keep_cam.mean()).item() - 0.25) < 0.02
    assert abs((1 - keep_radar.mean()).item() - 0.30) < 0.02
    assert ((keep_cam + keep_radar) >= 1).all()  # never both off


@pytest.mark.parametrize('change, message', [
    (lambda i: dict(i, imgs=i['imgs'][:, :1]), r'num_cams=2'),
    (lambda i: dict(i, imgs=i['imgs'][..., :16, :]), r'3, 32, 64'),
    (lambda i: dict(i, points=[p[:, :5] for p in i['points']]), r'expected \(P, 7\)'),
])
def test_batches_that_disagree_with_the_config_are_refused(batch, change, message):
    model = build().eval()
    inputs, samples = batch
    with pytest.raises(ValueError, match=message), torch.no_grad():
        model.predict(change(inputs), samples)


def train_steps(model, inputs, samples, steps):
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3)
    totals = []
    for _ in range(steps):
        losses = model.loss(inputs, samples)
        total = sum(losses.values())
        optim.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 35)
        optim.step()
        totals.append(total.item())
    return totals


@pytest.mark.slow  # about 5 s on an idle machine, several times that on a busy one
def test_training_iterations_lower_the_loss():
    model = build(radar_only_prob=0.0, camera_only_prob=0.0).train()
    totals = train_steps(model, *make_batch(seed=1), steps=12)
    assert sum(totals[-3:]) / 3 < 0.8 * sum(totals[:3]) / 3


def test_training_is_deterministic_with_a_seed():
    params = []
    for _ in range(2):
        model = build(seed=3).train()
        torch.manual_seed(7)  # dropout masks
        train_steps(model, *make_batch(seed=2), steps=3)
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(params[0], params[1])


def test_pretrained_image_backbone_is_loaded_when_the_file_exists(tmp_path):
    source = build(seed=5)
    state = {k: v for k, v in source.img_backbone.state_dict().items()}
    state['fc.weight'] = torch.zeros(1000, 64)  # a torchvision classifier, not used
    path = tmp_path / 'resnet.pth'
    torch.save(state, path)
    model = MODELS.build(dict(tiny_model_cfg(), img_pretrained=str(path)))
    model.init_weights()
    loaded = model.img_backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded)
    # a missing file leaves the backbone as initialised
    scratch = MODELS.build(dict(tiny_model_cfg(), img_pretrained=str(tmp_path / 'absent.pth')))
    scratch.init_weights()
    torch.save({'conv1.weight': state['conv1.weight']}, tmp_path / 'partial.pth')
    partial = MODELS.build(dict(tiny_model_cfg(), img_pretrained=str(tmp_path / 'partial.pth')))
    with pytest.raises(ValueError, match='lacks .* image backbone weights'):
        partial.init_weights()


def test_erased_camera_footage_reaches_neither_the_head_nor_the_camera_losses(batch):
    """A sample with camera_erased: its images change nothing; its radar still counts."""
    inputs, samples = batch
    model = build().train()
    model.radar_only_prob = model.camera_only_prob = 0.0  # no random dropout in this test
    samples[0].set_metainfo(dict(camera_erased=True))
    torch.manual_seed(0)
    losses = model.loss(inputs, samples)
    changed = dict(inputs, imgs=inputs['imgs'].clone())
    changed['imgs'][0] = torch.randn_like(changed['imgs'][0]) * 50  # other footage, same sample
    torch.manual_seed(0)
    losses_changed = model.loss(changed, samples)
    for key in ('task0.loss_heatmap', 'task0.loss_bbox', 'loss_img_heatmap'):
        assert torch.allclose(losses[key], losses_changed[key]), key
    # the radar of the erased sample still reaches the head
    radar_changed = dict(inputs, points=[p.clone() for p in inputs['points']])
    radar_changed['points'][0][:, :2] += 3.0
    torch.manual_seed(0)
    assert not torch.allclose(model.loss(radar_changed, samples)['task0.loss_heatmap'],
                              losses['task0.loss_heatmap'])
    # with every sample erased the camera branch does not run at all; the head still trains
    samples[1].set_metainfo(dict(camera_erased=True))
    all_erased = model.loss(inputs, samples)
    assert 'loss_img_heatmap' not in all_erased and 'loss_depth' not in all_erased
    assert torch.isfinite(all_erased['task0.loss_heatmap'])
