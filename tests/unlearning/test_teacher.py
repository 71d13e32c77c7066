"""The teacher snapshot: frozen and independent of the student."""
import torch

from ccu_av.unlearning.teacher import snapshot_teacher
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
