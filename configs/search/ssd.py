# The search of ssd on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/ssd_bevfusion.py'
settings = {
    'alpha1_damp0.5': {'model.objective.alpha': 1.0, 'model.objective.dampening': 0.5},
    'alpha1_damp1': {'model.objective.alpha': 1.0, 'model.objective.dampening': 1.0},
    'alpha3.1_damp0.5': {'model.objective.alpha': 3.1, 'model.objective.dampening': 0.5},
    'alpha3.1_damp1': {'model.objective.alpha': 3.1, 'model.objective.dampening': 1.0},
    'alpha10_damp0.5': {'model.objective.alpha': 10.0, 'model.objective.dampening': 0.5},
    'alpha10_damp1': {'model.objective.alpha': 10.0, 'model.objective.dampening': 1.0},
}
