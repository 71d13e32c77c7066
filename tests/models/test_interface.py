"""The modal-features interface on a second, unrelated tiny detector, and its conformance check."""
import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from mmdet3d.structures import LiDARInstance3DBoxes

from ccu_av.models import ModalFusionDetector, ModalityMixin, check_modal_interface, use_modality
from model_fixtures import make_batch, tiny_detector, tiny_model_cfg


class TinyLateFusion(ModalityMixin, nn.Module):
    """Not our detector: dense 'images' and 'radar' grids, summed, 1x1 convs as the head (a
    score map and a 2-channel box map)."""

    def __init__(self):
        super().__init__()
        self.cam = nn.Conv2d(3, 4, 1)
        self.radar = nn.Conv2d(2, 4, 1)
        self.head = nn.Conv2d(4, 1, 1)
        self.box = nn.Conv2d(4, 2, 1)

    def extract_modal_feats(self, batch_inputs, batch_data_samples):
        cam = self.cam(batch_inputs['cam'])
        radar = self.radar(batch_inputs['radar'])
        if self.modality == 'camera':
            radar = torch.zeros_like(radar)
        if self.modality == 'radar':
            cam = torch.zeros_like(cam)
        return dict(camera=cam, radar=radar, fused=self.fuse_modal_feats(cam, radar))

    def fuse_modal_feats(self, camera_feats, radar_feats):
        return camera_feats + radar_feats

    def head_forward(self, fused_feats):
        return dict(heatmap=self.head(fused_feats), regression=self.box(fused_feats))

    def head_loss(self, fused_feats, batch_data_samples):
        out = self.head_forward(fused_feats)
        return dict(loss=out['heatmap'].square().mean(), loss_box=out['regression'].abs().mean())

    def head_predict(self, fused_feats, batch_data_samples):
        heatmap = self.head_forward(fused_feats)['heatmap']
        return [InstanceData(scores_3d=s.flatten()) for s in heatmap]


class Leaky(TinyLateFusion):
    """Breaks the contract: radar features leak through in camera-only mode."""

    def extract_modal_feats(self, batch_inputs, batch_data_samples):
        cam, radar = self.cam(batch_inputs['cam']), self.radar(batch_inputs['radar'])
        return dict(camera=cam, radar=radar, fused=cam + radar)


def tiny_batch():
    return dict(cam=torch.randn(2, 3, 5, 5), radar=torch.randn(2, 2, 5, 5)), [None, None]


def test_a_different_detector_conforms_and_is_usable_through_the_interface():
    model = TinyLateFusion()
    inputs, samples = tiny_batch()
    assert isinstance(model, ModalFusionDetector)
    check_modal_interface(model, inputs, samples)
    with use_modality(model, 'camera'):
        feats = model.extract_modal_feats(inputs, samples)
        assert feats['radar'].abs().sum() == 0
    assert model.modality == 'fusion'
    loss = model.head_loss(feats['fused'], samples)['loss']
    loss.backward()
    assert model.radar.weight.grad is None and model.cam.weight.grad.abs().sum() > 0
    assert len(model.head_predict(feats['fused'], samples)) == 2


def test_missing_members_are_named():
    class NoHead(nn.Module):
        modality = 'fusion'

        def extract_modal_feats(self, batch_inputs, batch_data_samples):
            return {}

    with pytest.raises(TypeError, match=r"missing \['fuse_modal_feats', 'head_forward', "
                                        r"'head_loss', 'head_predict'\]"):
        check_modal_interface(NoHead())


def test_a_detector_without_dense_head_outputs_is_refused_naming_it():
    class NoDense(TinyLateFusion):
        head_forward = None

    with pytest.raises(TypeError, match=r"missing \['head_forward'\]"):
        check_modal_interface(NoDense())


def test_dense_head_outputs_off_the_heatmap_grid_are_caught():
    class Pooled(TinyLateFusion):
        def head_forward(self, fused_feats):
            out = super().head_forward(fused_feats)
            return dict(out, regression=nn.functional.avg_pool2d(out['regression'], 2))

    with pytest.raises(TypeError, match=r"head_forward\(\)'s heatmap and regression .* one grid"):
        check_modal_interface(Pooled(), *tiny_batch())


def test_head_forward_is_what_head_loss_and_head_predict_read():
    model = TinyLateFusion()
    inputs, samples = tiny_batch()
    fused = model.extract_modal_feats(inputs, samples)['fused']
    dense = model.head_forward(fused)
    assert dense['heatmap'].shape == (2, 1, 5, 5) and dense['regression'].shape == (2, 2, 5, 5)
    assert torch.equal(model.head_loss(fused, samples)['loss'], dense['heatmap'].square().mean())
    scores = torch.stack([r.scores_3d for r in model.head_predict(fused, samples)])
    assert torch.equal(scores, dense['heatmap'].flatten(1))
    dense['regression'].sum().backward()  # differentiable
    assert model.box.weight.grad.abs().sum() > 0


def test_camradar_bevfusion_dense_outputs_are_its_center_head_outputs():
    model = tiny_detector().eval()
    inputs, samples = make_batch()
    check_modal_interface(model, inputs, samples)
    fused = model.extract_modal_feats(inputs, samples)['fused']
    decoded = {}  # per entry, the head outputs it decodes, one dict per task (copied: the loss
    # clamps the heatmaps in place)
    for entry in ('loss_by_feat', 'predict_by_feat'):
        def record(preds, *args, entry=entry, read=getattr(model.bbox_head, entry), **kwargs):
            decoded[entry] = [{k: v.clone() for k, v in levels[0].items()} for levels in preds]
            return read(preds, *args, **kwargs)
        setattr(model.bbox_head, entry, record)
    with torch.no_grad():
        model.head_loss(fused, samples)
        model.head_predict(fused, samples)
    dense = model.head_forward(fused)
    num_classes = sum(len(t['class_names']) for t in tiny_model_cfg()['bbox_head']['tasks'])
    assert dense['heatmap'].shape == (2, num_classes, 16, 16)
    for tasks in decoded.values():
        assert torch.equal(dense['heatmap'], torch.cat([t['heatmap'] for t in tasks], 1))
        assert torch.equal(dense['regression'], torch.cat(
            [t[k] for t in tasks for k in ('reg', 'height', 'dim', 'rot', 'vel')], 1))
    assert dense['regression'].shape == (2, 10 * len(tasks), 16, 16)
    assert dense['heatmap'].requires_grad  # differentiable


def test_a_leaking_switched_off_modality_is_caught():
    with pytest.raises(TypeError, match="'camera' mode must return zeros for the switched-off 'radar'"):
        check_modal_interface(Leaky(), *tiny_batch())


class InconsistentFuse(TinyLateFusion):
    """Breaks the contract: fuse_modal_feats is not how extract_modal_feats fuses."""

    def extract_modal_feats(self, batch_inputs, batch_data_samples):
        feats = super().extract_modal_feats(batch_inputs, batch_data_samples)
        return dict(feats, fused=feats['camera'] - feats['radar'])


def test_a_fuse_that_is_not_the_detector_s_own_is_caught():
    with pytest.raises(TypeError, match=r"fuse_modal_feats\(camera, radar\) differs .* in 'fusion' mode"):
        check_modal_interface(InconsistentFuse(), *tiny_batch())


def test_use_modality_restores_after_an_error():
    model = TinyLateFusion()
    with pytest.raises(RuntimeError), use_modality(model, 'radar'):
        raise RuntimeError('boom')
    assert model.modality == 'fusion'
    with pytest.raises(ValueError, match='modality must be one of'):
        model.modality = 'thermal'


def test_camradar_bevfusion_heatmap_channel_k_is_the_class_of_label_k():
    """Object matching reads an object's own class channel: the head's heatmap targets of an
    object of label ``l`` peak in channel ``l`` of ``head_forward``'s concatenation, whichever
    task holds it (mmdet3d's CenterHead indexes its tasks' concatenated class names by label)."""
    model = tiny_detector().eval()
    num_classes = sum(len(t['class_names']) for t in tiny_model_cfg()['bbox_head']['tasks'])
    for label in range(num_classes):
        gt = InstanceData(bboxes_3d=LiDARInstance3DBoxes(
            torch.tensor([[2.0, 3.0, -1.0, 2.0, 2.0, 1.5, 0.0, 0.0, 0.0]]), box_dim=9),
                          labels_3d=torch.tensor([label]))
        heatmaps = model.bbox_head.get_targets([gt])[0]  # per task: (1, classes of the task, Y, X)
        target = torch.cat(heatmaps, 1)[0]
        assert target.shape[0] == num_classes
        peaks = target.flatten(1).max(1).values
        assert peaks[label] == 1 and (peaks > 0).sum() == 1, (label, peaks)
