# Baseline: random labels on the half of the weights most salient for the forget set
# (ccu_av.unlearning.objectives.SalUn); the mask comes from a pre-pass over the forget set.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/salun_bevfusion'

# wrong-class labels on half the weights (the objective's defaults) at 3e-4: chosen on the development
# takedown by a partial search (tools/search.py configs/search/salun.py, setting
# wrong_class_frac0.5_lr3e-4; docs/results.md, session 15)
model = dict(objective=dict(type='SalUn', classes={{_base_.class_names}}))
optim_wrapper = dict(optimizer=dict(lr=3e-4))
