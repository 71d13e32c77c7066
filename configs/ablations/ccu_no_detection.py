# Ablation of the main job: the detection loss on retain samples off
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_detection'
model = dict(objective=dict(w_detection=0.0))
