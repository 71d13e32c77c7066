# The search of neggrad on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/neggrad_bevfusion.py'
settings = {
    'lr1e-4_bound2': {'optim_wrapper.optimizer.lr': 0.0001, 'model.objective.max_forget_loss': 2.0},
    'lr1e-4_bound5': {'optim_wrapper.optimizer.lr': 0.0001, 'model.objective.max_forget_loss': 5.0},
    'lr3e-4_bound2': {'optim_wrapper.optimizer.lr': 0.0003, 'model.objective.max_forget_loss': 2.0},
    'lr3e-4_bound5': {'optim_wrapper.optimizer.lr': 0.0003, 'model.objective.max_forget_loss': 5.0},
    'lr1e-3_bound2': {'optim_wrapper.optimizer.lr': 0.001, 'model.objective.max_forget_loss': 2.0},
    'lr1e-3_bound5': {'optim_wrapper.optimizer.lr': 0.001, 'model.objective.max_forget_loss': 5.0},
}
