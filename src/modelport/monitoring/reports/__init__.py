"""The report path: one window of the prediction log re-read and compared with a baseline.

:mod:`.options` validates what the CLI and HTTP ask for; :mod:`.service` builds the
report: :mod:`.baseline` (what the window is compared with) and :mod:`.comparators` →
:mod:`.datadrift` (drift and :mod:`.quality` per column, as :mod:`.entries`),
:mod:`.performance` once labels arrived, concept drift
(:mod:`modelport.monitoring.concept.stream`) and, on request, :mod:`.multivariate`;
:mod:`.render` draws it as HTML.
"""
