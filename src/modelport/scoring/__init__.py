"""Batch scoring: files scored in chunks through an endpoint's version, exactly once.

source.py    the input files, their column check, fingerprint and chunk stream
decode.py    a chunk -> the data plane's ``Batch`` (its own validation) + refused rows
output.py    per-chunk parts, joined into the output and rejects files at the end
manifest.py  the checkpoint beside the output (what is committed, for --resume)
run.py       BatchScorer: prepare (refuse before scoring), run (chunk by chunk)
jobs.py      BatchJobs: runs started over HTTP, one per endpoint, in the background
"""

from modelport.scoring.manifest import Manifest, RunState
from modelport.scoring.run import BatchRequest, BatchScorer, PreparedRun

__all__ = ["BatchRequest", "BatchScorer", "Manifest", "PreparedRun", "RunState"]
