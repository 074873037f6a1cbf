"""Concept drift: River's detectors on the stream of per-prediction errors.

:mod:`.detectors` names the detectors (ADWIN, DDM, Page-Hinkley, wrapped in :mod:`.base`);
:mod:`.stream` runs them over a report's labelled rows, and the live series feeds them
each label as it arrives (:mod:`modelport.monitoring.live.labels`). River takes a fifth
of a second to import: it comes with :mod:`.detectors`, which a report imports only when
it runs detectors.
"""
