"""Study-file validation: valid files load, every kind of invalid input names its key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from echo_lab.errors import ConfigError
from echo_lab.study.spec import load_spec, parse_spec

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

BASE = """
[study]
name = "tiny"
kind = "echo"
realizations = 2
seed = 3

[model]
n = 6
W = 8.0

[protocol]
pulses = ["pbit", "lbit", "lbit:1"]

[times]
start = 0.1
stop = 100.0
num = 5
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_base_file_loads_with_defaults() -> None:
    spec = parse_spec(BASE)
    assert spec.kind == "echo" and spec.realizations == 2 and spec.seed == 3
    assert spec.model.n == 6 and spec.model.W == 8.0 and spec.model.J == 1.0
    assert spec.model.Jz == 1.0 and spec.model.g == 0.0 and spec.model.lattice == "chain"
    settings = spec.settings
    assert settings.protocol.labels == ("fid", "pbit", "lbit", "lbit:1")
    assert settings.protocol.rows[0] == ("fid", None)
    assert settings.protocol.probe_site(spec.model.lattice_object()) == 3
    assert settings.backend.name == "exact" and settings.check is None
    np.testing.assert_allclose(settings.times, np.geomspace(0.1, 100.0, 5))
    assert spec.text == BASE
    assert spec.points() == [{}]


def test_lists_become_an_outer_product_sweep() -> None:
    text = edit(BASE, "W = 8.0", "W = [4.0, 8.0, 16.0]\nJz = [0.0, 1.0]")
    spec = parse_spec(text)
    assert spec.sweep_dims == ("Jz", "W")
    assert spec.sweep_shape == (2, 3)
    points = spec.points()
    assert len(points) == 6
    assert points[1] == {"Jz": 0.0, "W": 8.0}
    model, _ = spec.resolve(points[4])
    assert (model.Jz, model.W) == (1.0, 8.0)


def test_spec_hash_ignores_comments_and_description_but_not_parameters() -> None:
    reference = parse_spec(BASE).spec_hash()
    commented = edit(BASE, "[model]", "# a comment\n[model]\n# another")
    described = edit(BASE, 'kind = "echo"', 'kind = "echo"\ndescription = "words"')
    assert parse_spec(commented).spec_hash() == reference
    assert parse_spec(described).spec_hash() == reference
    assert parse_spec(edit(BASE, "W = 8.0", "W = 8.5")).spec_hash() != reference
    assert parse_spec(edit(BASE, "seed = 3", "seed = 4")).spec_hash() != reference


def test_spec_hash_at_another_realization_count_is_that_study_files_hash() -> None:
    spec = parse_spec(BASE)
    more = edit(BASE, f"realizations = {spec.realizations}", "realizations = 7")
    assert spec.spec_hash(realizations=7) == parse_spec(more).spec_hash() != spec.spec_hash()
    assert spec.spec_hash(realizations=spec.realizations) == spec.spec_hash()


def test_square_lattice_and_explicit_times() -> None:
    text = edit(BASE, "n = 6", 'lattice = "square"\nLx = 3\nLy = 2')
    text = edit(text, "start = 0.1\nstop = 100.0\nnum = 5", "values = [0.0, 1.0, 2.5]")
    spec = parse_spec(text)
    assert spec.model.n == 6
    assert spec.model.lattice_object().kind == "square"
    assert spec.settings.times == (0.0, 1.0, 2.5)


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.name)
def test_every_experiment_file_is_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.text == path.read_text()


INVALID = [
    # (description, old, new, words the message must contain)
    ("unknown key", "seed = 3", "seed = 3\nprotcol = 1", ["'protcol'", "[study]", "allowed"]),
    ("unknown section", "[times]", "[protcol]\n[times]", ["[protcol]", "allowed"]),
    ("missing name", 'name = "tiny"', "", ["study.name"]),
    ("missing section", "[times]\nstart = 0.1\nstop = 100.0\nnum = 5", "", ["[times]"]),
    ("unknown kind", 'kind = "echo"', 'kind = "spinlock"', ["study.kind", "level_statistics"]),
    ("wrong type n", "n = 6", 'n = "six"', ["model.n", "integer"]),
    ("float n", "n = 6", "n = 6.5", ["model.n", "integer"]),
    ("negative n", "n = 6", "n = -6", ["model.n", ">= 2"]),
    ("bool as number", "realizations = 2", "realizations = true", ["study.realizations"]),
    ("zero realizations", "realizations = 2", "realizations = 0", ["study.realizations"]),
    ("negative W", "W = 8.0", "W = -1.0", ["model.W", ">= 0"]),
    ("NaN W", "W = 8.0", "W = nan", ["model.W", "finite"]),
    ("infinite Jz", "W = 8.0", "W = 8.0\nJz = inf", ["model.Jz", "finite"]),
    ("NaN in a sweep", "W = 8.0", "W = [4.0, nan]", ["model.W[1]", "finite"]),
    ("repeated sweep value", "W = 8.0", "W = [4.0, 4.0]", ["model.W", "repeats"]),
    ("empty sweep", "W = 8.0", "W = []", ["model.W", "empty"]),
    ("empty time grid", "num = 5", "num = 0", ["times.num", "empty"]),
    (
        "empty time list",
        "start = 0.1\nstop = 100.0\nnum = 5",
        "values = []",
        ["times.values", "empty"],
    ),
    ("negative time", "start = 0.1\nstop = 100.0\nnum = 5", "values = [-1.0, 2.0]", ["times"]),
    ("log grid from zero", "start = 0.1", "start = 0.0", ["times.start", "log"]),
    ("probe outside", "[times]", "probe = 6\n[times]", ["protocol.probe", "outside"]),
    ("probe text", "[times]", 'probe = "middle"\n[times]', ["protocol.probe", "center"]),
    ("radius too large", '"lbit:1"]', '"lbit:6"]', ["protocol.pulses", "radius 6"]),
    ("unknown pulse", '"lbit:1"]', '"xbit"]', ["protocol.pulses[2]", "xbit"]),
    ("window too wide", '"lbit:1"]', '"window:13"]', ["protocol.pulses[2]", "13", "w <= 12"]),
    ("window of no sites", '"lbit:1"]', '"window:0"]', ["protocol.pulses[2]", "w >= 1"]),
    ("window radius = width", '"lbit:1"]', '"window:4:4"]', ["protocol.pulses[2]", "r <= 3"]),
    ("window wider than chain", '"lbit:1"]', '"window:7"]', ["protocol.pulses[2]", "w <= 6"]),
    ("window without width", '"lbit:1"]', '"window:"]', ["protocol.pulses[2]", "malformed"]),
    ("window text width", '"lbit:1"]', '"window:w:1"]', ["protocol.pulses[2]", "'window:w:1'"]),
    ("window negative radius", '"lbit:1"]', '"window:4:-1"]', ["protocol.pulses[2]", "malformed"]),
    ("window extra field", '"lbit:1"]', '"window:4:1:2"]', ["protocol.pulses[2]", "malformed"]),
    (
        "window in a global echo",
        '"lbit:1"]',
        '"window:4"]\nsequence = "global"',
        ["protocol.pulses", "window", "'global'"],
    ),
    ("unknown protocol", "[times]", 'sequence = "spinlock"\n[times]', ["protocol.sequence"]),
    ("unknown background", "[times]", 'background = "y"\n[times]', ["protocol.background"]),
    ("xy4 count", "[times]", 'sequence = "xy4"\nn_pulses = 3\n[times]', ["n_pulses", "XY-4"]),
    ("unknown backend", "[times]", '[backend]\nname = "qpu"\n[times]', ["backend.name", "qpu"]),
    (
        "negative dt",
        "[times]",
        '[backend]\nname = "trotter-exact"\ndt = -0.1\n[times]',
        ["backend.dt", "> 0"],
    ),
    (
        "option of another backend",
        "[times]",
        '[backend]\nname = "exact"\ndt = 0.1\n[times]',
        ["backend.dt", "'exact'"],
    ),
    (
        "bad Trotter order",
        "[times]",
        '[backend]\nname = "trotter-exact"\norder = 3\n[times]',
        ["backend.order"],
    ),
    (
        "unknown noise key",
        "[times]",
        '[backend]\nname = "aer"\n[backend.noise]\nT1 = 10.0\n[times]',
        ["'T1'", "backend.noise", "t1"],
    ),
    (
        "unphysical noise",
        "[times]",
        '[backend]\nname = "aer"\n[backend.noise]\nt1 = 1.0\nt2 = 5.0\n[times]',
        ["backend.noise", "t2"],
    ),
    ("ising has no J", "W = 8.0", 'W = 8.0\ntype = "ising"\nJ = 1.0', ["'J'", "[model]"]),
    ("Lx on a chain", "n = 6", "n = 6\nLx = 3", ["model.Lx", "square"]),
    (
        "check of a pulse not run",
        "[times]",
        '[check]\nbackend = "trotter-exact"\ntimes = [1.0]\npulses = ["lbit:2"]\n[times]',
        ["check.pulses", "lbit:2"],
    ),
    ("check without backend", "[times]", "[check]\ntimes = [1.0]\n[times]", ["check.backend"]),
    ("not TOML", "n = 6", "n = = 6", ["not valid TOML"]),
]


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_input_names_the_key(old: str, new: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(edit(BASE, old, new))
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


DEER = """
[study]
name = "deer"
kind = "deer"

[model]
n = 6
W = 8.0

[protocol]
partner_distances = [1, 2]

[times]
start = 0.0
stop = 50.0
num = 11
spacing = "linear"
"""


def test_deer_partners_follow_the_distances() -> None:
    spec = parse_spec(DEER)
    protocol = spec.settings.protocol
    assert protocol.partner_sites(spec.model.lattice_object()) == (4, 5)
    assert [pulse.label for pulse in protocol.pulses] == ["lbit"]


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("partner_distances = [1, 2]", "", ["protocol.partner_distances"]),
        ("partner_distances = [1, 2]", "partner_distances = [6]", ["distance 6"]),
        ("partner_distances = [1, 2]", "partners = [3]", ["protocol.partners", "probe 3"]),
        ("[times]", "[check]\n[times]", ["[check]", "deer"]),
    ],
)
def test_invalid_deer_input(old: str, new: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(edit(DEER, old, new))
    for word in words:
        assert word in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "nothing.toml")


@pytest.mark.parametrize(
    ("pulse", "words"),
    [
        ("window:13", ["w <= 12"]),
        ("window:0", ["w >= 1"]),
        ("window:4:4", ["r <= 3"]),
        ("window:11", ["larger than the chain of n = 10", "w <= 10"]),
        ("window:8:", ["malformed"]),
        ("window:1.5", ["malformed"]),
    ],
)
def test_window_pulses_outside_their_limits_name_the_key(pulse: str, words: list[str]) -> None:
    text = edit(edit(BASE, "n = 6", "n = 10"), '"lbit:1"]', f'"window:6", "{pulse}"]')
    with pytest.raises(ConfigError) as info:
        parse_spec(text)
    message = str(info.value)
    for word in ["protocol.pulses[3]", repr(pulse), *words]:
        assert word in message, (word, message)


def test_window_pulses_allow_long_mps_chains_but_lbit_pulses_do_not() -> None:
    long_chain = edit(BASE, "n = 6", "n = 40")
    backend = '[backend]\nname = "aer"\nmethod = "matrix_product_state"\n[times]'
    window = edit(
        edit(long_chain, '"lbit", "lbit:1"]', '"window:8", "window:8:1"]'), "[times]", backend
    )
    spec = parse_spec(window)
    assert spec.settings.protocol.labels == ("fid", "pbit", "window:8", "window:8:1")
    with pytest.raises(
        ConfigError,
        match=r"l-bit pulses diagonalize every S\^z sector, which is limited to n <= 16",
    ):
        parse_spec(edit(long_chain, "[times]", backend))
    # The 'range' assignment then runs on the window only: limited by w, not by n.
    ranged = edit(window, "[protocol]", '[lbits]\nmethod = "range"\n[protocol]')
    assert parse_spec(ranged).settings.lbits.method == "range"
    with pytest.raises(ConfigError, match=r"protocol.pulses\[1\] = 'window:11'.*w <= 10"):
        parse_spec(edit(ranged, '"window:8",', '"window:11",'))
