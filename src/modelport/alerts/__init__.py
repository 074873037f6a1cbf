"""Alerts: rules over monitoring figures, thresholds, lifecycle, notifiers."""
