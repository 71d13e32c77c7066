# The search of neggrad_plus on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/neggrad_plus_bevfusion.py'
settings = {
    'alpha0.9_lr3e-4': {'model.objective.alpha': 0.9, 'optim_wrapper.optimizer.lr': 0.0003},
    'alpha0.9_lr1e-3': {'model.objective.alpha': 0.9, 'optim_wrapper.optimizer.lr': 0.001},
    'alpha0.95_lr3e-4': {'model.objective.alpha': 0.95, 'optim_wrapper.optimizer.lr': 0.0003},
    'alpha0.95_lr1e-3': {'model.objective.alpha': 0.95, 'optim_wrapper.optimizer.lr': 0.001},
    'alpha0.99_lr3e-4': {'model.objective.alpha': 0.99, 'optim_wrapper.optimizer.lr': 0.0003},
    'alpha0.99_lr1e-3': {'model.objective.alpha': 0.99, 'optim_wrapper.optimizer.lr': 0.001},
}
