"""The live path: every answered request binned in the background, window by window.

:mod:`.collector` (the server's listener and background ticks) counts requests into a
:mod:`.state` per endpoint, version and window (:mod:`.windows` says how traffic is
cut), matches labels as they arrive (:mod:`.labels`), and stores each window's merged
state and its points (:mod:`.evaluate`) in SQL (:mod:`.series`); :mod:`.queries` reads
them back and :mod:`.backfill` recomputes past windows from the log.
"""
