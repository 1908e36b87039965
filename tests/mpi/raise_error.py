"""Rank 1 raises while rank 0 waits in a collective: the whole job must fail fast, not hang."""

import numpy as np

from nn import distributed as dist

dist.init_process_group()
if dist.get_rank() == 1:
    raise RuntimeError("boom from rank 1")
dist.all_reduce(np.zeros(3))  # never matched: rank 1 is gone
print("rank 0 should not get here", flush=True)
