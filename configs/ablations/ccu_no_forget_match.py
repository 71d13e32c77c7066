# Ablation of the main job: the forget-match term off, the main job's setting before session 17's
# search (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_forget_match'
model = dict(objective=dict(w_forget_match=0.0))
