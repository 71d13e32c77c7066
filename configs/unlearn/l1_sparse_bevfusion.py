# Baseline: fine-tuning on the retain set with an l1 penalty on the weights that decays to 0 over
# the run (ccu_av.unlearning.objectives.L1Sparse); the forget set is never read.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/l1_sparse_bevfusion'

model = dict(objective=dict(type='L1Sparse', decay_iters={{_base_.max_iters}}))
# retain batches only: no forget samples are loaded
train_dataloader = dict(batch_sampler=dict(forget_batch_size=0))
