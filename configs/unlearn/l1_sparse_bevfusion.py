# Baseline: fine-tuning on the retain set with an l1 penalty on the weights that decays to 0 over
# the run (ccu_av.unlearning.objectives.L1Sparse); the forget set is never read.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/l1_sparse_bevfusion'

# decay_iters None: the penalty reaches 0 at the end of the run, whose length the takedown's
# budget (train_cfg, ForgetPassTrainLoop) sets from the forget set
model = dict(objective=dict(type='L1Sparse', decay_iters=None))
# retain batches only: no forget samples are loaded
train_dataloader = dict(batch_sampler=dict(forget_batch_size=0))
