# Baseline: gradient ascent on the forget set's detection loss, whole detector, each head loss
# term bounded (ccu_av.unlearning.objectives.NegGrad); the retain batches are not read.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/neggrad_bevfusion'

model = dict(objective=dict(type='NegGrad'))
