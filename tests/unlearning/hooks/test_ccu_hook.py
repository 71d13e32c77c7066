"""CCUHook under a real mmengine Runner, on the tiny detector and the toy BEV world."""
import hashlib
import uuid

import pytest
import torch
from mmengine.runner import Runner

from ccu_av.unlearning import CCUHook
from ccu_av.utils import load_checkpoint_file
from tiny_ccu_model import PCR, TinyCamRadar, ToyBEVDataset, accuracy, pretrain


def make_runner(work_dir, toy_sets, max_iters, load_from=None, resume=False, forget=None,
                model=None, checkpoint_interval=1000, **hook_kwargs):
    hook = dict(type='CCUHook', ccu=dict(point_cloud_range=PCR),
                forget_dataloader=dict(dataset=toy_sets['forget'] if forget is None else forget,
                                       batch_size=2),
                frozen_modules=('radar_encoder',), **hook_kwargs)
    return Runner(
        model=model or TinyCamRadar(),
        work_dir=str(work_dir),
        experiment_name=f'ccu_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(dataset=toy_sets['retain'], batch_size=2, num_workers=0,
                              sampler=dict(type='InfiniteSampler', shuffle=True),
                              collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10_000),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.02, weight_decay=0.0)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                           interval=checkpoint_interval),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[hook],
        load_from=None if load_from is None else str(load_from),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmdet3d',
        log_level='WARNING')


def ccu_hook(runner):
    return next(h for h in runner.hooks if isinstance(h, CCUHook))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ccu_unlearns_the_forget_cameras_and_keeps_radar_and_retain(tmp_path, toy_sets,
                                                                   original_ckpt, original_state):
    before_file = digest(original_ckpt)
    runner = make_runner(tmp_path / 'work', toy_sets, max_iters=100, load_from=original_ckpt,
                         checkpoint_interval=50)
    original = TinyCamRadar()
    original.load_state_dict(original_state)
    runner.train()
    model = runner.model

    # the target: a model trained without the forget cameras (their radar and boxes kept)
    forget, retain = toy_sets['forget'], toy_sets['retain']
    torch.manual_seed(0)
    visual_retrain = TinyCamRadar()
    pretrain(visual_retrain, [retain], radar_only=[forget])
    target = accuracy(visual_retrain, forget, 'camera')
    # the forget cameras lost what they knew, to about the visual retrain's level (not zero)
    assert accuracy(original, forget, 'camera') >= target + 0.2
    assert abs(accuracy(model, forget, 'camera') - target) <= 0.15
    # radar and retain kept what they knew
    assert accuracy(model, forget, 'radar') >= accuracy(original, forget, 'radar') - 0.06
    assert accuracy(model, retain, 'fusion') >= accuracy(original, retain, 'fusion') - 0.06
    assert accuracy(model, retain, 'camera') >= accuracy(original, retain, 'camera') - 0.06

    # every term was logged; the camera embeddings of forget objects moved away from the teacher
    hub = runner.message_hub
    for term in ('loss_unlearn', 'loss_spread', 'loss_radar_embedding', 'loss_radar_bev',
                 'loss_radar_detection', 'loss_retain_structure', 'loss_separation',
                 'loss_forget_fusion', 'retain_loss_heatmap'):
        assert hub.get_scalar(f'train/{term}').current() >= -1e-6, term
    cos = hub.get_scalar('train/ccu_forget_camera_cos').data[0]
    assert cos[0] == pytest.approx(1.0, abs=1e-5) and cos[-1] < 0.8
    assert hub.get_scalar('train/ccu_forget_radar_cos').current() == pytest.approx(1.0, abs=1e-5)

    # the frozen radar encoder and the teacher are the original; load_from is untouched
    hook = ccu_hook(runner)
    for name, value in original_state.items():
        assert torch.equal(hook.teacher.state_dict()[name], value), name
        if name.startswith('radar_encoder'):
            assert torch.equal(model.state_dict()[name], value), name
    assert not torch.equal(model.camera_encoder.weight, original.camera_encoder.weight)
    assert digest(original_ckpt) == before_file
    assert 'train_step' not in vars(model)  # the hook's step is removed after training
    assert all(p.requires_grad for p in model.parameters())

    # checkpoints hold the teacher as plain tensors and nothing of it in the model's state
    ckpt = load_checkpoint_file(tmp_path / 'work' / 'iter_100.pth')  # the safe loader
    assert set(ckpt['ccu_teacher']) == set(original_state)
    assert not any('teacher' in k for k in ckpt['state_dict'])
    assert ckpt['meta']['ccu'] == dict(forget_seed=0)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, toy_sets, original_ckpt,
                                                           original_state):
    straight = make_runner(tmp_path / 'straight', toy_sets, max_iters=8, load_from=original_ckpt)
    straight.train()

    killed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=4, load_from=original_ckpt,
                         checkpoint_interval=4)
    killed.train()
    resumed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=8, resume=True)
    resumed.train()

    assert resumed.iter == straight.iter == 8
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    teacher = ccu_hook(resumed).teacher.state_dict()
    assert all(torch.equal(teacher[k], v) for k, v in original_state.items())


def test_an_empty_forget_set_fails_before_training(tmp_path, toy_sets, original_ckpt):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=2, load_from=original_ckpt,
                         forget=ToyBEVDataset(locations=(0,), num_samples=0, seed=1))
    with pytest.raises(ValueError, match='forget set is empty'):
        runner.train()
    assert runner.iter == 0


def test_a_model_without_the_modal_interface_is_refused(tmp_path, toy_sets):
    class Plain(TinyCamRadar):
        head_loss = None

    with pytest.raises(TypeError, match=r"modal-features interface.*missing \['head_loss'\]"):
        make_runner(tmp_path / 'w', toy_sets, max_iters=2, model=Plain()).train()


def test_unknown_frozen_module_is_named(tmp_path, toy_sets):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=2)
    ccu_hook(runner).frozen_modules = ('lidar_encoder',)
    with pytest.raises(ValueError, match="'lidar_encoder'.*radar_encoder"):
        runner.train()


def test_load_from_in_the_output_folder_is_refused(tmp_path, toy_sets, original_ckpt):
    work = tmp_path / 'w'
    work.mkdir()
    inside = work / 'iter_2.pth'
    inside.write_bytes(original_ckpt.read_bytes())
    with pytest.raises(ValueError, match='could be overwritten|cannot be overwritten'):
        make_runner(work, toy_sets, max_iters=2, load_from=inside).train()
    assert digest(inside) == digest(original_ckpt)


def test_resuming_a_checkpoint_without_teacher_is_refused(tmp_path, toy_sets, original_ckpt):
    work = tmp_path / 'w'
    make_runner(work, toy_sets, max_iters=3, load_from=original_ckpt).train()
    ckpt = load_checkpoint_file(work / 'iter_3.pth')
    del ckpt['ccu_teacher']  # as if written by a run without CCU
    torch.save(ckpt, work / 'foreign.pth')
    runner = make_runner(work, toy_sets, max_iters=6, load_from=work / 'foreign.pth', resume=True)
    with pytest.raises(RuntimeError, match="resumes at iteration 3 .*without 'ccu_teacher'"):
        runner.train()


class NormedCamRadar(TinyCamRadar):
    """The tiny detector with a batch norm after its camera encoder."""

    def __init__(self):
        super().__init__()
        self.camera_encoder = torch.nn.Sequential(self.camera_encoder, torch.nn.BatchNorm2d(8))


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_keeps_the_original_normalisation_statistics(tmp_path, toy_sets, norm_eval):
    torch.manual_seed(0)
    model = NormedCamRadar()
    norm = model.camera_encoder[1]
    norm.running_mean.uniform_(-1, 1)  # as a trained model's, not the initial zeros
    stats = norm.running_mean.clone(), norm.running_var.clone()
    weight = model.camera_encoder[0].weight.detach().clone()
    runner = make_runner(tmp_path / 'work', toy_sets, max_iters=3, model=model, norm_eval=norm_eval)
    runner.train()
    assert not torch.equal(model.camera_encoder[0].weight, weight)  # it trained
    kept = torch.equal(norm.running_mean, stats[0]) and torch.equal(norm.running_var, stats[1])
    assert kept == norm_eval
    assert int(norm.num_batches_tracked) == (0 if norm_eval else 6)  # retain + forget batch a step
