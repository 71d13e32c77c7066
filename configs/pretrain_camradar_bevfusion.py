# Pretrain the camera+radar BEV fusion detector from scratch on the default synthetic dataset,
# in about 15 minutes on 2 CPU cores (tools/benchmark_pretrain.py measures it).
_base_ = [
    './_base_/models/camradar_bevfusion.py',
    './_base_/datasets/camradar_synthetic.py',
    './_base_/schedules/cpu_15min.py',
    './_base_/default_runtime.py',
]
# importing ccu_av registers all of its modules
custom_imports = dict(imports=['ccu_av'], allow_failed_imports=False)

data_version = 'v1.0-synthetic'
val_evaluator = dict(
    type='NuScenesSubsetMetric',
    data_root={{_base_.data_root}},
    version=data_version,
    subsets=dict(val=None))
test_evaluator = val_evaluator

work_dir = './work_dirs/pretrain_camradar_bevfusion'
