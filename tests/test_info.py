"""``echo-lab info`` and the environment metadata stored with results."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import qiskit
import qiskit_aer
import scipy
from threadpoolctl import threadpool_info

import echo_lab
from echo_lab import info
from echo_lab.cli import main


@pytest.fixture(scope="module")
def environment() -> dict[str, info.InfoValue]:
    return info.environment_info()


def test_cli_info_shows_the_installed_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"echo_lab {echo_lab.__version__}"
    assert lines[1].startswith(f"python {platform.python_version()} ")
    assert (
        lines[2]
        == f"numpy {np.__version__}, scipy {scipy.__version__}, qiskit {qiskit.__version__}"
    )
    assert lines[3].startswith(f"qiskit-aer {qiskit_aer.__version__} (distribution qiskit-aer")
    devices = qiskit_aer.AerSimulator().available_devices()
    assert lines[4] == "Aer devices: " + ", ".join(devices)
    assert "statevector" in lines[5] and "matrix_product_state" in lines[5]


def test_gpu_build_is_reported_from_the_installed_distribution(
    environment: dict[str, info.InfoValue],
) -> None:
    installed = {dist.metadata["Name"] for dist in metadata.distributions()}
    gpu = "qiskit-aer-gpu" in installed
    assert environment["qiskit_aer_distribution"] == ("qiskit-aer-gpu" if gpu else "qiskit-aer")
    assert gpu or "GPU" not in environment["aer_devices"]


def _site(folder: Path, *distributions: str) -> Path:
    """A folder of installed-package metadata (``*.dist-info``) for ``distributions``."""
    for name in distributions:
        info_dir = folder / f"{name.replace('-', '_')}-0.99.0.dist-info"
        info_dir.mkdir(parents=True)
        (info_dir / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.99.0\n", encoding="utf-8"
        )
    return folder


def test_a_second_aer_build_installed_beside_the_first_is_reported_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the GPU build's metadata next to the installed CPU build, as pip leaves it
    monkeypatch.syspath_prepend(str(_site(tmp_path, "qiskit-aer-gpu")))
    line = info.describe_environment().splitlines()[3]
    assert "CONFLICT: these builds share the qiskit_aer module" in line
    assert "echo_lab[cpu]" in line and "echo_lab[gpu]" in line
    distribution = info.environment_info()["qiskit_aer_distribution"]
    assert distribution == "qiskit-aer-gpu, qiskit-aer"


def test_a_missing_aer_install_is_reported_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # no installed distribution metadata anywhere on the path (qiskit_aer stays importable)
    monkeypatch.setattr(sys, "path", [str(_site(tmp_path))])
    line = info.describe_environment().splitlines()[3]
    assert "not installed: install exactly one build of Qiskit Aer" in line
    assert "echo_lab[cpu]" in line and "echo_lab[gpu]" in line
    assert info.environment_info()["qiskit_aer_distribution"] == "none"


def test_without_qiskit_aer_the_aer_paths_raise_a_config_error_naming_the_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from echo_lab.backends import get_backend
    from echo_lab.errors import ConfigError

    # An import of qiskit_aer (or a submodule) now fails, as on a machine without it; the
    # echo_lab modules that import it at the top are imported afresh.
    for name in [m for m in sys.modules if m == "qiskit_aer" or m.startswith("qiskit_aer.")]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in ("echo_lab.backends.aer", "echo_lab.backends.estimator", "echo_lab.backends.noise"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    for backend in ("aer", "estimator"):
        with pytest.raises(ConfigError, match=r"not installed: .*echo_lab\[cpu\].*echo_lab\[gpu\]"):
            get_backend(backend)
    with pytest.raises(ConfigError, match="need Qiskit Aer"):
        import echo_lab.backends.noise  # noqa: F401
    assert get_backend("exact").name == "exact"  # the exact backends do not need Aer


def test_environment_info_is_plain_data(environment: dict[str, info.InfoValue]) -> None:
    assert json.loads(json.dumps(environment)) == environment
    assert environment["numpy"] == np.__version__
    assert environment["qiskit_aer"] == qiskit_aer.__version__
    assert environment["aer_devices"] == list(qiskit_aer.AerSimulator().available_devices())
    assert environment["usable_cpus"] <= environment["cpu_count"]
    blas = environment["blas"]
    assert isinstance(blas, list)
    assert len(blas) == len(threadpool_info())
    numpy_blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert any(f"{p['num_threads']} threads" in line for p in numpy_blas for line in blas)


def test_max_statevector_qubits_follows_the_memory_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 MiB: 0.8 MiB usable, a 15-qubit state vector takes 512 KiB, a 16-qubit one 1 MiB.
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "1M")
    assert info.max_statevector_qubits(2**20) == 15
    assert info.environment_info()["max_statevector_qubits"] == 15
    assert info.environment_info()["available_memory_bytes"] == 2**20
    assert info.max_statevector_qubits(16) == 0
    assert info.max_statevector_qubits(2**34 * 16) == 33


def test_git_commit_of_the_working_tree(environment: dict[str, info.InfoValue]) -> None:
    package = Path(echo_lab.__file__).resolve().parent
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        assert environment["git_commit"] == done.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{40}", str(environment["git_commit"]))
        assert environment["git_status"] in ("clean", "modified")
    else:
        assert environment["git_commit"] == "unknown"


def test_missing_git_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    data = info.environment_info()
    assert data["git_commit"] == "unknown" and data["git_status"] == "unknown"
