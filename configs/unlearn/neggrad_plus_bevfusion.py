# Baseline: NegGrad+, descent on the retain set's detection loss and bounded ascent on the forget
# set's in each step, whole detector (ccu_av.unlearning.objectives.NegGradPlus).
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/neggrad_plus_bevfusion'

model = dict(objective=dict(type='NegGradPlus'))  # alpha 0.95: the objective's default
# chosen on the development takedown by a partial search (tools/search.py configs/search/neggrad_plus.py,
# setting alpha0.95_lr3e-4; docs/results.md, session 15)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
