# The takedown suite (ccu_av.benchmark.suite): one entry per takedown, each a request file of
# this folder (TakedownRequest fields). `kind` says what sort of takedown it is; `role` is
# 'development' for the one takedown that settings are chosen on (never reported as a result) and
# 'reported' for the others. Every takedown selects whole scenes of the default synthetic dataset.
takedowns = [
    dict(name='development', kind='ordinary scenes + private site', role='development',
         request='configs/takedowns/development.yaml'),
    dict(name='whole_location', kind='whole location', role='reported',
         request='configs/takedowns/whole_location.yaml'),
    dict(name='ordinary_scenes', kind='ordinary scenes', role='reported',
         request='configs/takedowns/ordinary_scenes.yaml'),
    dict(name='private_site', kind='private site', role='reported',
         request='configs/takedowns/private_site.yaml'),
    dict(name='time_window', kind='time window of a log', role='reported',
         request='configs/takedowns/time_window.yaml'),
]
# the visual retrain's training seeds (the first is the original's own seed: that retrain differs
# from the original in the takedown's camera data alone)
reference_seeds = [0, 1]
