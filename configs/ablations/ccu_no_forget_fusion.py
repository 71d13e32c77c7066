# Ablation of the main job: the radar-grounded fusion term on forget scenes off
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_forget_fusion'
model = dict(objective=dict(w_forget_fusion=0.0))
