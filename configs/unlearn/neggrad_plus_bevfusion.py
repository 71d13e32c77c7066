# Baseline: NegGrad+, descent on the retain set's detection loss and bounded ascent on the forget
# set's in each step, whole detector (ccu_av.unlearning.objectives.NegGradPlus).
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/neggrad_plus_bevfusion'

model = dict(objective=dict(type='NegGradPlus'))
