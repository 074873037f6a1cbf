"""Concept drift: River's detectors on the stream of per-prediction errors.

:mod:`.detectors` names the detectors (ADWIN, DDM, Page-Hinkley, wrapped in :mod:`.base`);
:mod:`.stream` runs them over a report's labelled rows, and the live series feeds them
each label as it arrives (:mod:`modelport.monitoring.live.labels`). River takes a fifth
of a second to import: it comes with :mod:`.detectors`, which a report imports only when
it runs detectors.

Each detector fixes the stream's scale from a warm-up (:mod:`.base`), so its alarms do
not depend on the errors' units, and its defaults are calibrated by simulation
(``bench/calibrate_detectors.py``; docs/statistics.md states the false-alarm rates and
delays). ADWIN, first in ``monitoring.detectors``, is the default one.
"""
