"""Performance metrics of labelled predictions, one implementation each.

:mod:`.formulas` holds the formulas; :mod:`.exact` applies them to a report's labelled
rows, :mod:`.counts` to a live window's mergeable counts, and :mod:`.labelled` takes the
labels, answers and probabilities out of a table of labelled rows for either.
"""
