"""HTTP adapter: simple JSON, Open Inference Protocol v2, admin, metrics."""
