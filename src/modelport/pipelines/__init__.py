"""Pipelines: steps that run one after another, each on the rows its condition picks."""
