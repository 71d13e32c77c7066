# Baseline: the forget samples' boxes relabelled to another class and trained on with the retain
# samples, whole detector (ccu_av.unlearning.objectives.RandomLabels).
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/random_labels_bevfusion'

# chosen on the development takedown by a partial search (tools/search.py configs/search/random_labels.py,
# setting empty_lr3e-4; docs/results.md, session 15)
model = dict(objective=dict(type='RandomLabels', classes={{_base_.class_names}}, mode='empty'))
optim_wrapper = dict(optimizer=dict(lr=3e-4))
