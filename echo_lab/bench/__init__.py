r"""The simulator benchmarks: ``echo-lab bench`` and the scripts in ``experiments/benchmarks/``.

:func:`run_benchmarks` runs the suite in one process and writes one JSON record
(``suite.json``, or ``suite_quick.json`` with ``quick=True``) and a summary figure beside it.
Every headline is a **named ratio of two times measured in the same run**; how they are measured
(interleaved variants, min and median, load average, copy bandwidth) is in
:mod:`echo_lab.bench.timing`.

=================  ===========================================================================
benchmark          module: what it measures (headline ratio, baseline named in the record)
=================  ===========================================================================
``lbits``          :mod:`~echo_lab.bench.lbit_pipeline`: l-bit pipeline stages at each N; our
                   Pauli transform vs ``SparsePauliOp.from_operator`` (from_operator / ours)
``trotter_step``   :mod:`~echo_lab.bench.trotter_step`: one Strang step on Aer statevector,
                   ours vs the plain first-order gate-by-gate circuit and vs the Strang one
                   (ours / each), and vs the memory-bandwidth bound (ours / bound)
``backends``       :mod:`~echo_lab.bench.backends_trace`: one FID trace on the exact,
                   trotter-exact, krylov and aer backends (time / exact)
``mps``            :mod:`~echo_lab.bench.backends_trace`: Aer MPS against chain length
``study``          :mod:`~echo_lab.bench.study_profile`: a whole study, time per stage
``dask``           :mod:`~echo_lab.bench.dask_sweep`: an echo sweep serially and on a local
                   Dask cluster (serial / parallel; identical results)
``binding``        :mod:`~echo_lab.bench.binding`: disorder realizations bound into one Aer
                   call (marginal cost per realization / per-gate floor)
``trotter_gpu``    :func:`~echo_lab.bench.trotter_step.bench_trotter_devices`, only where Aer
                   sees a GPU (GPU / CPU)
=================  ===========================================================================

Outside the suite: :mod:`~echo_lab.bench.peers` (the Trotter step on qulacs and qsim beside
ours; the ``bench`` extra installs them), :mod:`~echo_lab.bench.mps_peers` (the MPS Hahn echo on
quimb and TeNPy TEBD beside Aer MPS, the same product formula and truncation),
:func:`~echo_lab.bench.lbit_pipeline.bench_lbit_plain_numpy` (the l-bit operators the plain
numpy way) and :func:`~echo_lab.bench.binding.bench_batched_binding` (batched binding per
device), run by the scripts of ``experiments/benchmarks/``.
"""

from echo_lab.bench.backends_trace import bench_backends, bench_mps
from echo_lab.bench.binding import (
    bench_batched_binding,
    bench_binding,
    bound_fid_circuit,
    measure_gate_seconds,
)
from echo_lab.bench.circuits import gate_by_gate_circuit, rotation_sequence
from echo_lab.bench.dask_sweep import bench_dask
from echo_lab.bench.lbit_pipeline import bench_lbit_plain_numpy, bench_lbits, plain_numpy_taus
from echo_lab.bench.report import plot_summary, write_record
from echo_lab.bench.study_profile import bench_study, reduced_study
from echo_lab.bench.suite import FULL, QUICK, SUITE_FORMAT, SuiteSettings, run_benchmarks
from echo_lab.bench.timing import (
    make_ratio,
    measure_copy_bandwidth,
    summarize,
    time_interleaved,
    time_per_step,
    time_repeats,
    watch_load,
)
from echo_lab.bench.trotter_step import bench_trotter_devices, bench_trotter_step

__all__ = [
    "FULL",
    "QUICK",
    "SUITE_FORMAT",
    "SuiteSettings",
    "bench_backends",
    "bench_batched_binding",
    "bench_binding",
    "bench_dask",
    "bench_lbit_plain_numpy",
    "bench_lbits",
    "bench_mps",
    "bench_study",
    "bench_trotter_devices",
    "bench_trotter_step",
    "bound_fid_circuit",
    "gate_by_gate_circuit",
    "make_ratio",
    "measure_copy_bandwidth",
    "measure_gate_seconds",
    "plain_numpy_taus",
    "plot_summary",
    "reduced_study",
    "rotation_sequence",
    "run_benchmarks",
    "summarize",
    "time_interleaved",
    "time_per_step",
    "time_repeats",
    "watch_load",
    "write_record",
]
