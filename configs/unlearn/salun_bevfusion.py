# Baseline: random labels on the half of the weights most salient for the forget set
# (ccu_av.unlearning.objectives.SalUn); the mask comes from a pre-pass over the forget set.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/salun_bevfusion'

model = dict(objective=dict(type='SalUn', classes={{_base_.class_names}}))
