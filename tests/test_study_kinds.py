"""A new study kind plugs in through the registry alone: the README's recipe, run end to end."""

from __future__ import annotations

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
