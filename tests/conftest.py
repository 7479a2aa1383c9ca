"""Shared test settings.

BLAS is held to one thread for the whole run: the matrices in the default tests are small
(at most 2^10), where OpenBLAS threads only add contention, and a spinning second thread on a
busy 2-core machine slowed a 256 x 256 ``eigh`` a hundredfold. One thread also fixes the
summation order, so serial and Dask results can be compared bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield
