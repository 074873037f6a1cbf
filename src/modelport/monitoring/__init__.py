"""The monitoring plane: statistics, reports read from the log, and the live series.

* statistics: :mod:`.profile` (reference profiles), :mod:`.stats` (drift statistics),
  :mod:`.detectors` (concept drift), :mod:`.metrics` / :mod:`.counts` (performance);
* reports: :mod:`.source` (a window of the log) → :mod:`.baseline` / :mod:`.comparators`
  → :mod:`.datadrift`, :mod:`.quality`, :mod:`.performance`, :mod:`.concept` →
  :mod:`.service` (the report) → :mod:`.render` (HTML); :mod:`.options` validates what
  the CLI and HTTP ask for;
* live series: :mod:`.collector` (the server's listener and background ticks) →
  :mod:`.live` (mergeable window state) → :mod:`.evaluate` (points) → :mod:`.series`
  (SQL); :mod:`.labels` follows feedback; :mod:`.queries` reads it all back;
  :mod:`.backfill` recomputes past windows from the log.

See docs/monitoring.md.
"""
