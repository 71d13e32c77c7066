# Ablation of the main job: (c) dual-set contrastive separation off (retain structure, forget/retain separation)
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_separation'
model = dict(objective=dict(w_retain_structure=0.0, w_separation=0.0))
