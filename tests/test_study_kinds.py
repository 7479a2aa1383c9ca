"""A new study kind plugs in through the registry alone: the recipe of docs/pages/extending.md, run
end to end."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from echo_lab.backends.options import BackendSpec, build_backend, parse_backend
from echo_lab.errors import ConfigError
from echo_lab.protocols import observables
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import drawing as plot
from echo_lab.study import kinds as studies
from echo_lab.study.kinds.base import (
    KindSettings,
    StudyKind,
    backend_limits,
    backend_state_bytes,
    check_probe,
    initial_states,
    refuse_larger,
    setup_unit,
    unit_dataset,
)
from echo_lab.study.results import load_results
from echo_lab.study.runner import run_study
from echo_lab.study.sections import ProtocolSpec, parse_protocol, parse_times
from echo_lab.study.spec import known_keys, parse_spec


@dataclass(frozen=True)
class RamseySettings(KindSettings):
    protocol: ProtocolSpec
    times: tuple[float, ...]
    backend: BackendSpec


class RamseyKind(StudyKind):
    name = "ramsey_fringes"
    required = ("protocol", "times")
    optional = ("backend",)
    keys: Mapping[str, tuple[str, ...]] = {"protocol": ("probe", "background")}

    def parse(self, tables: Mapping[str, Any], *, sweep: dict[str, Any]) -> RamseySettings:
        protocol = parse_protocol(tables["protocol"], keys=self.keys["protocol"], sweep=sweep)[0]
        backend = parse_backend(tables["backend"]) if "backend" in tables else BackendSpec()
        return RamseySettings(protocol, parse_times(tables["times"]), backend)

    def check(self, spec: Any) -> None:
        refuse_larger(spec, backend_limits(spec, self.backends(spec)))
        check_probe(spec)

    def backends(self, spec: Any) -> dict[str, BackendSpec]:
        return {"backend": spec.settings.backend}

    def estimate_unit_bytes(self, spec: Any) -> int:
        return backend_state_bytes(spec, self.backends(spec))

    def compute_unit(self, spec: Any, point: Any, realization: int) -> xr.Dataset:
        setup = setup_unit(spec, point, realization)
        settings: RamseySettings = setup.settings
        probe = settings.protocol.probe_site(setup.lattice)
        backend = build_backend(settings.backend)
        fid = build_sequence("fid", n=setup.n, probe=probe)
        ops = observables.probe_observables(setup.n, probe)
        states = initial_states(setup, probe, settings.protocol.backgrounds)
        times = np.asarray(settings.times)
        values = np.array(
            [
                backend.run(setup.model.hamiltonian(), fid, s, times, observables=ops)["sx"]
                for s in states.values()
            ]
        )
        coords = {"background": list(states), "time": times}
        return unit_dataset({"sx": (("background", "time"), values)}, coords, setup)

    def figures(self, ds: xr.Dataset) -> dict[str, Any]:
        figure, axes = plot.new_figure()
        for _, at in plot.points(ds):
            summary = plot.summarize(at["sx"].isel(background=0))
            plot.band(axes[0, 0], at["time"].values, summary)
        return {"fringes": figure}


STUDY = """
[study]
name = "fringes"
kind = "ramsey_fringes"
realizations = 2
seed = 4

[model]
n = 5
W = [2.0, 6.0]

[protocol]
background = "z-random"

[times]
start = 0.0
stop = 2.0
num = 5
spacing = "linear"

[backend]
name = "krylov"
"""


def test_a_new_kind_needs_only_a_registry_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"ramsey_fringes.*not known"):
        parse_spec(STUDY)
    monkeypatch.setitem(studies.KINDS, "ramsey_fringes", RamseyKind())
    spec = parse_spec(STUDY)
    assert spec.sweep_dims == ("W",)
    path = run_study(spec, out=tmp_path, progress=False)
    ds = load_results(path)
    assert ds["sx"].dims == ("W", "realization", "background", "time")
    # t = 0: the probe starts in |+>, so <sigma^x_p> = 1 in every realization
    np.testing.assert_allclose(ds["sx"].isel(time=0).values, 1.0, atol=1e-12)
    assert (tmp_path / "fringes_fringes.png").is_file()
    with pytest.raises(ConfigError, match="unknown key 'sequence' in \\[protocol\\]"):
        parse_spec(STUDY.replace("[protocol]\n", '[protocol]\nsequence = "hahn"\n'))


def test_known_keys_cover_every_kind_section() -> None:
    keys = known_keys()
    for kind in studies.KINDS.values():
        for section in (*kind.required, *kind.optional):
            assert section in keys, (kind.name, section)
    assert "partner_distances" in keys["protocol"] and "tolerance" in keys["check"]


class WOnlyKind(RamseyKind):
    """A kind that sweeps W alone, and lets [protocol] hold angle_error without sweeping it."""

    name = "w_only"
    keys: Mapping[str, tuple[str, ...]] = {"protocol": ("probe", "background", "angle_error")}
    sweepable: Mapping[str, tuple[str, ...]] = {"model": ("W",)}


def test_the_loader_sweeps_only_the_keys_a_kind_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(studies.KINDS, "w_only", WOnlyKind())
    text = STUDY.replace('kind = "ramsey_fringes"', 'kind = "w_only"')
    assert parse_spec(text).sweep_dims == ("W",)
    with pytest.raises(
        ConfigError,
        match=r"^model\.n lists 2 values, but a w_only study cannot sweep it; give one value "
        r"\(the keys it sweeps: model\.W\)$",
    ):
        parse_spec(text.replace("n = 5", "n = [4, 5]"))
    protocol = text.replace("[protocol]\n", "[protocol]\nangle_error = [0.0, 0.1]\n")
    with pytest.raises(ConfigError, match=r"^protocol\.angle_error lists 2 values, but a w_only"):
        parse_spec(protocol)
    # one value of a key the kind does not sweep is fine
    assert parse_spec(protocol.replace("[0.0, 0.1]", "0.1")).sweep_dims == ("W",)


def test_the_kinds_sweep_what_they_did_before_the_declarations() -> None:
    model = ("n", "J", "Jz", "W", "g")
    swept = {kind.name: kind.sweep_keys for kind in studies.KINDS.values()}
    assert swept == {
        "echo": (*model, "angle_error", "n_pulses"),
        "echo_scaling": (*model, "angle_error", "n_pulses"),
        "entanglement": model,
        "deer": (*model, "angle_error"),
        "level_statistics": model,
        "lbit_locality": model,
        "hardware_echo": model,
    }


def test_hooks_have_their_defaults_on_the_base_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from echo_lab.study.figures import plot_file

    kind = RamseyKind()
    assert kind.summary(xr.Dataset()) is None and not kind.combines
    with pytest.raises(ConfigError, match="results of kind 'ramsey_fringes' do not combine"):
        kind.combine([xr.Dataset()])
    monkeypatch.setitem(studies.KINDS, "ramsey_fringes", kind)
    spec = parse_spec(STUDY.replace("realizations = 2", "realizations = 1"))
    path = run_study(spec, out=tmp_path / "a", progress=False)
    # no summary hook: the figures only
    assert [p.name for p in plot_file(path, out=tmp_path / "b")] == ["fringes_fringes.png"]
    with pytest.raises(
        ConfigError, match=r"only results of one kind that combines \(echo_scaling\)"
    ):
        plot_file(path, path, out=tmp_path / "c")
    with pytest.raises(TypeError, match="abstract"):
        type("Incomplete", (StudyKind,), {"name": "incomplete"})()


def _runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports at run time (module or function level; TYPE_CHECKING aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for child in branch.body
        for node in ast.walk(child)
    }
    modules = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_no_kind_imports_the_study_loader() -> None:
    # the loader imports the kinds; a kind that imported it back (echo_scaling did, to read W
    # while plotting) made a cycle
    folder = Path(studies.__file__).parent
    for path in sorted(folder.glob("*.py")):
        imported = _runtime_imports(path)
        assert "echo_lab.study.spec" not in imported, path.name
        assert "echo_lab.study.reference" not in imported, path.name
