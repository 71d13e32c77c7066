"""The modal-features interface on a second, unrelated tiny detector, and its conformance check."""
import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from ccu_av.models import ModalFusionDetector, ModalityMixin, check_modal_interface, use_modality


class TinyLateFusion(ModalityMixin, nn.Module):
    """Not our detector: dense 'images' and 'radar' grids, summed, a 1x1 conv as the head."""

    def __init__(self):
        super().__init__()
        self.cam = nn.Conv2d(3, 4, 1)
        self.radar = nn.Conv2d(2, 4, 1)
        self.head = nn.Conv2d(4, 1, 1)

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

    def head_loss(self, fused_feats, batch_data_samples):
        return dict(loss=self.head(fused_feats).square().mean())

    def head_predict(self, fused_feats, batch_data_samples):
        return [InstanceData(scores_3d=s.flatten()) for s in self.head(fused_feats)]


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

    with pytest.raises(TypeError, match=r"missing \['fuse_modal_feats', 'head_loss', 'head_predict'\]"):
        check_modal_interface(NoHead())


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
