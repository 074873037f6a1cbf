"""Wire formats, free of any transport: bytes and JSON in, a validated ``Batch`` out,
and a ``PredictionEvent`` back into what the caller reads.

* :mod:`.decode` — rows and instances against an ``InputSchema`` (every refusal names
  the field as the caller wrote it);
* :mod:`.simple` — modelport's simple JSON (``{"instances": [...]}``/``{"inputs": ...}``);
* :mod:`.v2` and :mod:`.v2_binary` — the Open Inference Protocol v2, JSON and binary
  tensors.

The HTTP adapter uses them; so can any other host (a gRPC server, a Ray Serve
deployment) without importing the HTTP adapter.
"""
