# Baseline: the forget samples' boxes relabelled to another class and trained on with the retain
# samples, whole detector (ccu_av.unlearning.objectives.RandomLabels).
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/random_labels_bevfusion'

model = dict(objective=dict(type='RandomLabels', classes={{_base_.class_names}}))
