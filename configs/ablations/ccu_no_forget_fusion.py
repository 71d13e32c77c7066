# Ablation of the main job: the radar-grounded fusion term on forget scenes off
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']
custom_imports = dict(imports=['ccu_av'], allow_failed_imports=False)

work_dir = './work_dirs/ablations/ccu_no_forget_fusion'
ccu = dict(w_forget_fusion=0.0)
