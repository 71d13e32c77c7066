"""UnlearningHook: an objective's pre-pass runs once and resumes from the checkpoint, and its
update mask holds exactly under weight decay and momentum."""
import pytest
import torch

from ccu_av.unlearning import OBJECTIVES, FineTune
from toy_runner import make_runner

CHANNELS = 8  # TinyCamRadar's default


@OBJECTIVES.register_module(name='ToyPrepass', force=True)
class ToyPrepass(FineTune):
    """Fine-tuning with a pre-pass: the teacher's mean camera feature over the forget set."""

    has_prepass = True
    calls = 0

    def __init__(self):
        super().__init__()
        self.register_buffer('forget_mean', torch.zeros(CHANNELS))
        self.batches = 0

    def prepass(self, student, teacher, forget_batches):
        ToyPrepass.calls += 1
        with torch.no_grad():
            feats = [teacher.extract_modal_feats(b['inputs'], b['data_samples'])['camera'].mean((0, 2, 3))
                     for b in forget_batches]
        self.batches = len(feats)
        self.forget_mean.copy_(torch.stack(feats).mean(0))


@OBJECTIVES.register_module(name='ToyMasked', force=True)
class ToyMasked(FineTune):
    """Fine-tuning whose updates may change every other camera-encoder weight only."""

    def update_mask(self, student):
        mask = torch.zeros_like(student.camera_encoder.weight, dtype=torch.bool)
        mask.view(-1)[::2] = True
        return {'camera_encoder.weight': mask}


def test_the_prepass_runs_once_over_the_forget_set_and_comes_back_on_resume(tmp_path, toy_sets,
                                                                          original_ckpt):
    ToyPrepass.calls = 0
    first = make_runner(tmp_path / 'w', toy_sets, max_iters=2, original=original_ckpt,
                        objective=dict(type='ToyPrepass'), forget_batch_size=0,
                        checkpoint_interval=2)
    first.train()
    objective = first.model.objective
    assert ToyPrepass.calls == 1 and objective.batches == len(toy_sets['forget'])
    assert objective.forget_mean.abs().sum() > 0
    resumed = make_runner(tmp_path / 'w', toy_sets, max_iters=4, original=original_ckpt,
                          objective=dict(type='ToyPrepass'), forget_batch_size=0, resume=True)
    resumed.train()
    assert ToyPrepass.calls == 1  # not recomputed: the state came with the checkpoint
    assert torch.equal(resumed.model.objective.forget_mean, objective.forget_mean)


def test_an_objective_with_a_prepass_refuses_to_train_without_the_hook(tmp_path, toy_sets, original_ckpt):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=2, original=original_ckpt,
                         objective=dict(type='ToyPrepass'), forget_batch_size=0, custom_hooks=[])
    with pytest.raises(RuntimeError, match='needs its pre-pass.*UnlearningHook'):
        runner.train()


def test_masked_weights_stay_exactly_under_weight_decay_and_momentum(tmp_path, toy_sets,
                                                                    original_ckpt, original_state):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=6, original=original_ckpt,
                         objective=dict(type='ToyMasked'), forget_batch_size=0, frozen_modules=(),
                         optimizer=dict(type='AdamW', lr=0.05, weight_decay=0.5, betas=(0.9, 0.999)))
    runner.train()
    after = runner.model.student.camera_encoder.weight.detach().view(-1)
    before = original_state['camera_encoder.weight'].view(-1)
    assert torch.equal(after[1::2], before[1::2])  # masked: not moved by a single ulp
    assert (after[::2] != before[::2]).all()  # allowed: trained
    assert not torch.equal(runner.model.student.camera_encoder.bias,
                           original_state['camera_encoder.bias'])  # not restricted: trained
