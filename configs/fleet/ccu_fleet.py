# Fleet privacy takedowns with CCU (tools/takedown.py, docs/takedown.md): every `run` unlearns the
# pending requests from the published model with the main job's CCU, evaluates it on a reduced
# report (two retain scenes per location: the membership attack's 5 scene folds need 5 or more;
# the first 6 flagged scenes) and publishes it only if
# the verification gate passes.
takedown = dict(
    root='work_dirs/fleet',
    ledger=None,  # <root>/ledger.sqlite; point it at shared storage for a fleet (docs/takedown.md)
    job_config='configs/ccu_bevfusion.py',
    cfg_options={'job.retain_eval_scenes_per_location': 2, 'job.forget_eval_scenes': 6},
    # the verification gate's thresholds: {} keeps ccu_av/takedown/gate.py's GATE_DEFAULTS, chosen on
    # the development takedown (docs/takedown.md); a key set here overrides its default
    gate=dict(),
    lock_wait_s=0,
    pictures=True)
