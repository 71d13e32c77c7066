"""The teacher snapshot: frozen, independent of the student, and restorable from plain tensors."""
import pytest
import torch

from ccu_av.unlearning.teacher import restore_teacher, snapshot_teacher, teacher_state
from tiny_ccu_model import TinyCamRadar


def test_snapshot_is_frozen_in_eval_mode_and_independent_of_the_student():
    student = TinyCamRadar()
    teacher = snapshot_teacher(student)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with torch.no_grad():
        student.camera_encoder.weight.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert not any(name.startswith('teacher') for name in student.state_dict())


def test_state_round_trips_through_a_safe_checkpoint(tmp_path):
    original = TinyCamRadar()
    state = teacher_state(snapshot_teacher(original))
    assert all(isinstance(v, torch.Tensor) and v.device.type == 'cpu' for v in state.values())
    torch.save(dict(ccu_teacher=state), tmp_path / 'c.pth')
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)['ccu_teacher']
    other = TinyCamRadar()  # different random weights, same architecture
    teacher = restore_teacher(other, loaded, 'c.pth')
    assert all(torch.equal(original.state_dict()[k], v) for k, v in teacher.state_dict().items())
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


def test_a_state_of_another_model_is_refused_with_its_source():
    state = teacher_state(TinyCamRadar())
    state.pop('head.bias')
    with pytest.raises(ValueError, match=r"ckpt\.pth does not fit the model: missing \['head.bias'\]"):
        restore_teacher(TinyCamRadar(), state, 'ckpt.pth')
