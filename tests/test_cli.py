"""The command line as a newcomer meets it: help, usage errors (exit 2), failures (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from optstate.__main__ import DRIVERS, EXPERIENCE, experience, main
from optstate._harness import COLUMNS


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class TestHelp:
    @pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["demo", "--help"]])
    def test_help_exits_0(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        """--help on every command exits 0."""
        code, out, _ = run(argv, capsys)
        assert code == 0
        assert "usage: optstate" in out

    def test_check_help_names_every_option_and_default(self, capsys: pytest.CaptureFixture[str]) -> None:
        """check --help gives each option's meaning and default."""
        _, out, _ = run(["check", "--help"], capsys)
        out = " ".join(out.split()).replace("- ", "-")  # argparse wraps at hyphens
        for option in ["--driver", "--all", "--examples", "--seed", "--max-bugs", "--transport", "--json"]:
            assert option in out
        assert "(default: 200)" in out
        assert "(default: 5)" in out
        assert "(default: livekit-optstate)" in out


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (
                ["check", "--driver", "nosuch"],
                "--driver must be one of livekit-stock, livekit-optstate, livekit-azure-stock, "
                "livekit-azure-optstate",
            ),
            (["check", "--driver", "os:path"], "'os:path' is not module:callable"),
            (["check", "--driver", "os:nosuch"], "cannot load driver 'os:nosuch': 'os' has no 'nosuch'"),
            (["check", "--examples", "0"], "--examples must be at least 1 (got 0)"),
            (["check", "--examples", "-3"], "--examples must be at least 1 (got -3)"),
            (["check", "--max-bugs", "0"], "--max-bugs must be at least 1 (got 0)"),
            (["check", "--max-bugs", "many"], "argument --max-bugs: invalid int value: 'many'"),
            (["demo", "--examples", "0"], "--examples must be at least 1"),
            (["check", "--all", "--driver", "livekit-stock"], "not allowed with argument"),
        ],
    )
    def test_usage_error_exits_2_with_usage_and_drivers(
        self, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A usage error exits 2 with the command's usage, the message and the drivers; nothing is checked."""
        code, out, err = run(argv, capsys)
        assert code == 2
        assert f"usage: optstate {argv[0]}" in err
        assert message in err
        assert "available drivers: " + ", ".join(DRIVERS) in err
        assert "checking" not in out
        assert "Traceback" not in err

    def test_missing_hypothesis_is_one_line(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without Hypothesis, check and demo print one line naming the pip install and exit 2."""
        monkeypatch.setitem(sys.modules, "hypothesis", None)
        monkeypatch.delitem(sys.modules, "optstate.testing", raising=False)
        for argv in (["check", "--driver", "livekit-stock"], ["demo"]):
            code, _, err = run(argv, capsys)
            assert code == 2
            assert err.strip().splitlines() == [
                "optstate: optstate.testing needs Hypothesis: pip install 'optstate[testing]'"
            ]


class TestCheck:
    def test_a_failing_driver_exits_1_with_every_bug(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Exit 1 means a property failed; the report shows each bug's program."""
        code, out, _ = run(["check", "--driver", "examples.toy_plugin:broken", "--examples", "60"], capsys)
        assert code == 1
        assert "distinct bug" in out
        assert "minimal program:" in out
        assert "reproduce: optstate check --driver examples.toy_plugin:broken" in out

    def test_a_passing_driver_exits_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Exit 0 when every property holds."""
        code, out, _ = run(["check", "--driver", "examples.toy_plugin:fixed", "--examples", "30"], capsys)
        assert code == 0, out
        assert "passed" in out

    def test_json_to_stdout_is_the_whole_stdout(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json - writes only JSON to stdout: the driver, its properties, bugs with programs, timings."""
        code, out, err = run(
            [
                "check",
                "--driver",
                "examples.toy_plugin:broken",
                "--examples",
                "60",
                "--max-bugs",
                "2",
                "--json",
                "-",
            ],
            capsys,
        )
        assert code == 1
        report = json.loads(out)
        (row,) = report["drivers"]
        assert row["driver"] == "examples.toy_plugin:broken"
        assert set(row["properties"]) == set(COLUMNS)
        assert row["properties"]["reconnect"] == "n/a"
        assert 1 <= len(row["bugs"]) <= 2
        assert row["bugs"][0]["program"][0] == "model = make_model()"
        assert row["seconds"] >= 0
        assert "checking" in err


@pytest.mark.livekit
class TestAll:
    def test_all_prints_the_matrix_and_writes_json(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--all checks every installed driver: one matrix row each, exit 1 since the stock one fails."""
        pytest.importorskip("livekit.plugins.openai")
        path = tmp_path / "report.json"
        code, out, _ = run(["check", "--all", "--examples", "40", "--json", str(path)], capsys)
        assert code == 1
        header = next(line for line in out.splitlines() if line.startswith("driver "))
        for column in COLUMNS:
            assert column in header
        rows = {r["driver"]: r for r in json.loads(path.read_text())["drivers"]}
        assert rows["livekit-optstate"]["ok"]
        assert not rows["livekit-stock"]["ok"]
        assert rows["livekit-stock"]["version"]
        assert rows["livekit-stock"]["properties"]["reconnect"] == "n/a"  # inproc cannot reconnect


def test_every_property_has_a_user_sentence() -> None:
    """The demo has a plain sentence for each matrix column, naming the option."""
    assert set(EXPERIENCE) == set(COLUMNS)
    assert "voice" in experience("rejection rollback", ["audio.output.voice"])


def test_entry_point_in_a_subprocess() -> None:
    """`python -m optstate check --driver nosuch` exits 2 without a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "optstate", "check", "--driver", "nosuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_all_narrowed_to_one_extra(capsys: pytest.CaptureFixture[str]) -> None:
    """``check --all --extra X`` considers only the drivers X installs (how ``make demo``
    runs each framework's drivers in that framework's environment)."""
    code, out, _ = run(["check", "--all", "--extra", "agents", "--examples", "1"], capsys)
    names = {n for n, e in DRIVERS.items() if e.extra == "agents"}
    assert all(n in out for n in names)
    assert "livekit-stock" not in out
    assert code in (0, 1)
