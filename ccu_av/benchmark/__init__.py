"""Benchmarks of unlearning methods over a suite of takedowns (``tools/benchmark.py``).

- :mod:`.suite`: the takedown suite (``configs/takedowns/suite.py``): request files, kinds, roles;
- :mod:`.run`: one method on one takedown through the job steps, every result cached;
- :mod:`.relearn`: the relearning check (how fast forgotten camera knowledge comes back);
- :mod:`.table`: the suite's table, its targets, CSV and plot.
"""
from .relearn import relearn_curve
from .run import code_version, run_takedown, takedown_config, train_references
from .suite import Suite, SuiteTakedown, load_suite
from .table import (gate_rows, gate_thresholds_from_retrains, plot_suite, render_csv, render_gate_markdown,
                    render_markdown, takedown_rows, targets)

__all__ = ['Suite', 'SuiteTakedown', 'load_suite', 'run_takedown', 'takedown_config', 'train_references', 'code_version',
           'relearn_curve', 'takedown_rows', 'targets', 'render_markdown', 'render_csv', 'plot_suite', 'gate_rows',
           'render_gate_markdown', 'gate_thresholds_from_retrains']
