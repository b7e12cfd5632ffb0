"""Thread control: how many BLAS/OpenMP and torch intra-op threads a block of work may use.

The one place that sets torch's thread count (the evaluator, the MLP baseline and the ASE calculator use
it), so the previous setting is always restored. torch is never imported here: if it is not loaded yet
there is nothing to limit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` intra-op torch threads (``None``, or torch not imported: leave it alone), then
    restore the previous setting."""
    torch = sys.modules.get("torch")
    if torch is None or n is None or n == torch.get_num_threads():
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_CONTROLLER: dict[str, tuple] = {}


def _controller():
    """A threadpoolctl controller of the BLAS/OpenMP libraries loaded now. Finding them costs about 2.5 ms
    (a scan of every loaded library), which ``auto`` paid twice per fit + predict; it is redone only when
    the set of imported modules changed (a new native library comes with an import)."""
    from threadpoolctl import ThreadpoolController

    n = len(sys.modules)
    held = _CONTROLLER.get("state")
    if held is None or held[0] != n:
        held = _CONTROLLER["state"] = (n, ThreadpoolController())
    return held[1]


@contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` BLAS/OpenMP threads (threadpoolctl) and ``n`` torch threads. torch's
    threads are set first: limiting OpenMP first made ``torch.get_num_threads()`` report ``n`` already, so
    torch kept its own setting (2 threads on a loaded 2-core machine: ``auto``'s fit 8x slower)."""
    with torch_threads(n), _controller().limit(limits=n):
        yield
