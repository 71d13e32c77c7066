# Baseline: MultiDelete (ccu_av.unlearning.objectives.MultiDelete): forget samples' fused features
# pushed towards the original's fusion of their camera with another scene's radar, unimodal and
# retain features kept the original's; the whole detector trains.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/multidelete_bevfusion'

model = dict(objective=dict(type='MultiDelete'))
