"""Retraining: new versions from logged, labelled traffic, by hand or by policy.

* :mod:`.request` -- what a retrain is asked to do and what it answers (shared by the
  CLI, the HTTP API and policies);
* :mod:`.run` -- one retrain: gather the window's logged inputs joined with their labels,
  split a holdout, call the user's trainer, validate, evaluate against the parent on the
  same holdout, register with lineage and start shadow-then-canary;
* :mod:`.policy` -- stored policies (trigger, cooldown, label minimum, attempts) and their
  history of decisions;
* :mod:`.service` -- the server's background service that checks policies and runs each
  training in a worker process, so serving never waits on it.
"""
