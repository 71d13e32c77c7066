# Baseline: SCRUB (ccu_av.unlearning.objectives.SCRUB): the student distils the original's dense
# head outputs on retain batches and, for the first max_fraction of the run, moves away from them on
# forget batches; the whole detector trains.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/scrub_bevfusion'

model = dict(objective=dict(type='SCRUB'))
