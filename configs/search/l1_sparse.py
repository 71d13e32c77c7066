# The search of l1_sparse on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/l1_sparse_bevfusion.py'
settings = {
    'gamma1e-5_lr1e-3': {'model.objective.gamma': 1e-05, 'optim_wrapper.optimizer.lr': 0.001},
    'gamma1e-5_lr3e-3': {'model.objective.gamma': 1e-05, 'optim_wrapper.optimizer.lr': 0.003},
    'gamma5e-5_lr1e-3': {'model.objective.gamma': 5e-05, 'optim_wrapper.optimizer.lr': 0.001},
    'gamma5e-5_lr3e-3': {'model.objective.gamma': 5e-05, 'optim_wrapper.optimizer.lr': 0.003},
    'gamma2e-4_lr1e-3': {'model.objective.gamma': 0.0002, 'optim_wrapper.optimizer.lr': 0.001},
    'gamma2e-4_lr3e-3': {'model.objective.gamma': 0.0002, 'optim_wrapper.optimizer.lr': 0.003},
}
