# The main job (tools/unlearn.py): a takedown of the default synthetic dataset's flagged location,
# unlearned from the pretrained camera+radar BEV fusion detector with CCU (docs/method.md).
_base_ = ['./unlearn/ccu_bevfusion.py']

work_dir = './work_dirs/ccu_bevfusion'
