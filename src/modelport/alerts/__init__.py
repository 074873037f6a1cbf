"""Alerts: rules over monitoring figures, thresholds, lifecycle, notifiers.

``rules`` parses a rule and names the figures it may watch; ``thresholds`` holds static
and adaptive bands; ``lifecycle`` steps alerts (inactive → pending → firing → resolved)
with silences and acknowledgements; ``notifiers`` holds the
:class:`~modelport.alerts.notifiers.Notification` contract and its receivers
(JSON/Slack webhook, Alertmanager v2, the server log); ``delivery`` sends them in the
background, one queue and one worker thread per receiver, with retries. Nothing here
starts by being imported: the composition root builds and starts it.
"""
