"""UnlearningModel (CCU and fine-tuning) under a real mmengine Runner, on the tiny detector and
the toy BEV world."""
import hashlib

import pytest
import torch

from ccu_av.unlearning import UnlearningModel
from ccu_av.utils import load_checkpoint_file
from tiny_ccu_model import PCR, TinyCamRadar, ToyBEVDataset, accuracy, pretrain
from toy_runner import make_runner


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ccu_unlearns_the_forget_cameras_and_keeps_radar_and_retain(tmp_path, toy_sets,
                                                                   original_ckpt, original_state):
    before_file = digest(original_ckpt)
    runner = make_runner(tmp_path / 'work', toy_sets, max_iters=100, original=original_ckpt,
                         checkpoint_interval=50)
    original = TinyCamRadar()
    original.load_state_dict(original_state)
    runner.train()
    model = runner.model.student

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

    # the frozen radar encoder and the teacher are the original; the original file is untouched
    teacher = runner.model.teacher.state_dict()
    for name, value in original_state.items():
        assert torch.equal(teacher[name], value), name
        if name.startswith('radar_encoder'):
            assert torch.equal(model.state_dict()[name], value), name
    assert not torch.equal(model.camera_encoder.weight, original.camera_encoder.weight)
    assert digest(original_ckpt) == before_file
    assert not runner.model.teacher.training

    # checkpoints hold student and teacher as plain tensors (the safe loader reads them)
    ckpt = load_checkpoint_file(tmp_path / 'work' / 'iter_100.pth')
    assert {k[len('teacher.'):] for k in ckpt['state_dict'] if k.startswith('teacher.')} == set(original_state)
    assert {k[len('student.'):] for k in ckpt['state_dict'] if k.startswith('student.')} == set(original_state)


@pytest.mark.parametrize('objective', [None, dict(type='FineTune')], ids=['ccu', 'finetune'])
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, toy_sets, original_ckpt,
                                                           original_state, objective):
    forget_batch_size = 0 if objective else None
    straight = make_runner(tmp_path / 'straight', toy_sets, max_iters=8, original=original_ckpt,
                           objective=objective, forget_batch_size=forget_batch_size)
    straight.train()

    killed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=4, original=original_ckpt,
                         checkpoint_interval=4, objective=objective,
                         forget_batch_size=forget_batch_size)
    killed.train()
    # the resumed run's original is another file: the teacher must come from the checkpoint
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict={k: torch.zeros_like(v) for k, v in original_state.items()}), other)
    resumed = make_runner(tmp_path / 'resumed', toy_sets, max_iters=8, original=other, resume=True,
                          objective=objective, forget_batch_size=forget_batch_size)
    resumed.train()

    assert resumed.iter == straight.iter == 8
    for name, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    teacher = resumed.model.teacher.state_dict()
    assert all(torch.equal(teacher[k], v) for k, v in original_state.items())
    assert not all(torch.equal(straight.model.student.state_dict()[k], v)
                   for k, v in original_state.items())  # it trained


def test_finetune_trains_on_retain_alone_and_never_loads_a_forget_sample(tmp_path, toy_sets,
                                                                       original_ckpt, original_state):
    class CountingForget(ToyBEVDataset):
        loaded = 0

        def __getitem__(self, idx):
            CountingForget.loaded += 1
            return super().__getitem__(idx)

    forget = CountingForget(locations=(0,), num_samples=6, seed=1)
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=5, original=original_ckpt,
                         objective=dict(type='FineTune'), forget=forget, forget_batch_size=0,
                         frozen_modules=())
    runner.train()
    assert CountingForget.loaded == 0
    assert runner.message_hub.get_scalar('train/retain_loss_heatmap').current() > 0
    changed = [k for k, v in runner.model.student.state_dict().items()
               if not torch.equal(v, original_state[k])]
    assert any(k.startswith('radar_encoder') for k in changed)  # nothing frozen: all of it trains


def test_an_objective_that_reads_forget_batches_refuses_a_pipeline_without_them(tmp_path, toy_sets,
                                                                              original_ckpt):
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=2, original=original_ckpt,
                         forget_batch_size=0)
    with pytest.raises(ValueError, match='CCU reads forget batches.*forget_batch_size'):
        runner.train()


def test_an_empty_forget_set_fails_before_training(tmp_path, toy_sets, original_ckpt):
    with pytest.raises(ValueError, match='forget set is empty'):
        make_runner(tmp_path / 'w', toy_sets, max_iters=2, original=original_ckpt,
                    forget=ToyBEVDataset(locations=(0,), num_samples=0, seed=1)).train()


def test_a_model_without_the_modal_interface_is_refused():
    class Plain(TinyCamRadar):
        head_loss = None

    with pytest.raises(TypeError, match=r"modal-features interface.*missing \['head_loss'\]"):
        UnlearningModel(detector=Plain(), objective=dict(type='CCU', point_cloud_range=PCR))


def test_an_unknown_objective_is_named():
    with pytest.raises(ValueError, match="'SCRUBB' is not a registered unlearning objective.*'CCU'"):
        UnlearningModel(detector=TinyCamRadar(), objective=dict(type='SCRUBB'))


def test_an_unknown_objective_argument_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"objective \(CCU\): unknown arguments \['w_unlern'\].*'w_unlearn'"):
        UnlearningModel(detector=TinyCamRadar(),
                        objective=dict(type='CCU', point_cloud_range=PCR, w_unlern=0.0))


def test_unknown_frozen_module_is_named():
    with pytest.raises(ValueError, match="'lidar_encoder'.*radar_encoder"):
        UnlearningModel(detector=TinyCamRadar(), objective=dict(type='CCU', point_cloud_range=PCR),
                        frozen_modules=('lidar_encoder',))


def test_no_original_and_load_from_are_refused_before_training(tmp_path, toy_sets, original_ckpt):
    with pytest.raises(ValueError, match='needs original_checkpoint'):
        make_runner(tmp_path / 'a', toy_sets, max_iters=2).train()
    runner = make_runner(tmp_path / 'b', toy_sets, max_iters=2, original=original_ckpt,
                         load_from=str(original_ckpt))
    with pytest.raises(ValueError, match='load_from.*does not apply.*original_checkpoint'):
        runner.train()
    assert runner.iter == 0


def test_an_original_of_another_architecture_is_refused(tmp_path, toy_sets):
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=TinyCamRadar(channels=4).state_dict()), other)
    with pytest.raises(ValueError, match=r'(?s)does not fit TinyCamRadar.*shape of camera_encoder.weight'):
        make_runner(tmp_path / 'w', toy_sets, max_iters=2, original=other).train()


def test_an_original_in_the_output_folder_is_refused(tmp_path, toy_sets, original_ckpt):
    work = tmp_path / 'w'
    work.mkdir()
    inside = work / 'iter_2.pth'
    inside.write_bytes(original_ckpt.read_bytes())
    with pytest.raises(ValueError, match='cannot be overwritten'):
        make_runner(work, toy_sets, max_iters=2, original=inside).train()
    assert digest(inside) == digest(original_ckpt)


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
    original = tmp_path / 'normed.pth'
    torch.save(dict(state_dict=model.state_dict()), original)
    stats = norm.running_mean.clone(), norm.running_var.clone()
    weight = model.camera_encoder[0].weight.detach().clone()
    runner = make_runner(tmp_path / 'work', toy_sets, max_iters=3, detector=model, original=original,
                         norm_eval=norm_eval)
    runner.train()
    assert not torch.equal(model.camera_encoder[0].weight, weight)  # it trained
    kept = torch.equal(norm.running_mean, stats[0]) and torch.equal(norm.running_var, stats[1])
    assert kept == norm_eval
    assert int(norm.num_batches_tracked) == (0 if norm_eval else 6)  # retain + forget batch a step
