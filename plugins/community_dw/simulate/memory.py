"""Handing freed memory back to the OS between the simulator's big steps."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys

import pyarrow as pa


def release_memory() -> None:
    """Return freed heap to the OS once a step has dropped its big frames and arrays.

    The budget is peak resident set: glibc keeps freed heap (millions of small str objects and
    numpy buffers) mapped until trimmed, and Arrow's allocator caches freed pages, so without this
    the next step would start on top of the last one's garbage.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)
