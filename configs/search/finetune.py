# The search of finetune on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/finetune_bevfusion.py'
settings = {
    'lr3e-4': {'optim_wrapper.optimizer.lr': 0.0003},
    'lr1e-3': {'optim_wrapper.optimizer.lr': 0.001},
    'lr3e-3': {'optim_wrapper.optimizer.lr': 0.003},
}
