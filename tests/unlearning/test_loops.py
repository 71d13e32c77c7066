"""The unlearning budget in passes over the forget set (ccu_av.unlearning.loops)."""
import pytest
from mmengine.config import Config

from ccu_av.unlearning import ForgetPassTrainLoop, forget_pass_iters
from toy_runner import make_runner


@pytest.mark.parametrize('num_forget, per_iter, passes, cap, expected', [
    (56, 4, 4.25, 60, 60),    # the development takedown: 4.25 passes of 56 samples, 4 a batch
    (24, 4, 4.25, 60, 26),    # a private site's 24: ceil(25.5)
    (480, 4, 4.25, 60, 60),   # a whole location: capped (half a pass)
    (480, 8, 4.25, 600, 255),  # two processes of 4 forget samples each
    (1, 4, 1.0, 60, 1),       # at least min_iters
    (56, 4, 4.25, 0, 0),      # a method that trains nothing (SSD)
])
def test_iterations_follow_the_forget_set_within_the_bound(num_forget, per_iter, passes, cap, expected):
    assert forget_pass_iters(num_forget, per_iter, passes, cap) == expected


def test_bad_budgets_are_refused_by_name():
    with pytest.raises(ValueError, match='forget_passes must be positive'):
        forget_pass_iters(10, 4, 0, 60)
    with pytest.raises(ValueError, match='max_iters and min_iters must be >= 0'):
        forget_pass_iters(10, 4, 1, -1)


def loop_cfg(passes, cap, **kw):
    return dict(type='ForgetPassTrainLoop', forget_passes=passes, max_iters=cap, val_interval=10_000, **kw)


@pytest.mark.parametrize('forget_batch_size, passes, cap, iters', [
    (2, 2.0, 100, 6),    # 6 forget samples, 2 a batch: 2 passes are 6 iterations
    (1, 2.0, 100, 12),   # 1 a batch: 12
    (2, 2.0, 4, 4),      # capped at 4 (1.33 passes)
    (0, 1.0, 100, 3),    # no forget samples read (fine-tuning): the retain batch of 2 counts
])
def test_the_runner_trains_the_budget_the_forget_set_gives(tmp_path, toy_sets, original_ckpt,
                                                           forget_batch_size, passes, cap, iters):
    objective = dict(type='FineTune') if forget_batch_size == 0 else None
    runner = make_runner(tmp_path / 'w', toy_sets, max_iters=0, original=original_ckpt, objective=objective,
                         forget_batch_size=forget_batch_size, train_cfg=loop_cfg(passes, cap))
    runner.train()
    assert isinstance(runner.train_loop, ForgetPassTrainLoop)
    assert runner.iter == runner.train_loop.max_iters == iters
    assert runner.message_hub.get_info('max_iters') == iters  # what L1Sparse's decay reads
    assert runner.train_loop.forget_passes == pytest.approx(iters * (forget_batch_size or 2) / 6)


def test_the_takedown_job_budgets_every_method_in_forget_passes():
    cfg = Config.fromfile('configs/_base_/jobs/takedown.py')
    assert cfg.train_cfg.type == 'ForgetPassTrainLoop'
    assert cfg.train_cfg.forget_passes == cfg.forget_passes > 0
    assert cfg.train_cfg.max_iters == cfg.max_iters
