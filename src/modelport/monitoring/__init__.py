"""The monitoring plane: two paths over the same statistics.

* :mod:`.reports` — **reports re-read from the log**: a window of the prediction log
  compared with a baseline, exactly (``modelport monitor report``,
  ``GET /v1/endpoints/{name}/monitoring``);
* :mod:`.live` — **live windows binned in the background**: each answered request
  counted into tumbling windows whose figures are stored as time series
  (``monitor live | history | events | backfill``);
* shared by both: :mod:`.stats` (drift statistics, their settings and verdicts),
  :mod:`.metrics` (performance metrics: exact and as mergeable counts) and
  :mod:`.concept` (concept-drift detectors on the error stream).

Reference profiles are fitted at registration (:mod:`modelport.registry.profile`); the
log is read through :mod:`modelport.predlog`. See docs/monitoring.md.
"""
