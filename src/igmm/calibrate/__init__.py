"""Calibrate cheap proxies to a target's runs and predict held-out settings (``igmm calibrate``).

A *proxy* is any registered dynamics (the paper GMM, its variants, classical
opinion models); a *target* is any set of runs read by
:func:`igmm.llm.targets.load_target` (the released language-model
transcripts by default). Per (p, k) cell the target's summary statistics
(:mod:`igmm.calibrate.measures`) are matched by the proxy's, each difference
standardised by the standard errors (with floors). The free values of a
proxy (any configuration field, dynamics options, a time scale of proxy
steps per target round, maps from the target's p and k to the proxy's) are
declared in a YAML space (:mod:`igmm.calibrate.space`) and searched with
Optuna (:mod:`igmm.calibrate.search`), every simulation going through the
sweep pipeline (:mod:`igmm.calibrate.engine`: keyed by value, cached,
resumable, any executor). :mod:`igmm.calibrate.study` adds the bootstrap
uncertainty, the leave-one-cell-out study, the uncalibrated paper GMM as the
baseline and a leaderboard; :mod:`igmm.calibrate.report` writes the output
folder. Optuna is the ``calibrate`` extra: ``pip install 'interacting-gmm[calibrate]'``.
"""

INSTALL = "pip install 'interacting-gmm[calibrate]'"
