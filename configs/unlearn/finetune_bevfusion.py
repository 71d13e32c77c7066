# Baseline: fine-tune the whole detector on the retain set only, with its own training loss
# (ccu_av.unlearning.objectives.FineTune); the forget set is never read.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/finetune_bevfusion'

model = dict(objective=dict(type='FineTune'))
# retain batches only: no forget samples are loaded
train_dataloader = dict(batch_sampler=dict(forget_batch_size=0))
# chosen on the development takedown (tools/search.py configs/search/finetune.py; docs/results.md):
# a third of the takedown job's learning rate, the one that keeps the rest of the detector
optim_wrapper = dict(optimizer=dict(lr=3e-4))
