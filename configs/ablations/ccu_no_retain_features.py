# Ablation of the main job: the retain feature-consistency term off
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_retain_features'
model = dict(objective=dict(w_retain_features=0.0))
