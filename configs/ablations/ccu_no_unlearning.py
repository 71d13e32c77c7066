# Ablation of the main job: (a) selective visual unlearning off: no inverse contrastive term, no no-collapse term
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_unlearning'
model = dict(objective=dict(w_unlearn=0.0, w_spread=0.0))
