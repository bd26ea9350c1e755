"""``gatewaysim mutate`` on the echo pack: verdicts, survivors, resume, the user's files."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewaysim.models import echo
from gatewaysim.properties.mutation import Mutant, judge, load_equivalents, mutate, render
from gatewaysim.properties.mutation.operators import all_sites
from gatewaysim.properties.mutation.runner import Campaign, Settings

ECHO = Path(echo.__file__).parent
SERVER = (ECHO / "server.py").read_text(encoding="utf-8")
Run = Callable[..., tuple[int, str, str]]


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` but compiled bytecode, with a hash of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_a_server_that_echoes_twice_is_killed_by_echo_order(tmp_path: Path) -> None:
    twice = Mutant.of(SERVER, "server.py", "return [Send(conn, data)]",
                      "return [Send(conn, data), Send(conn, data)]")
    verdict = judge("echo", twice, tmp_path, max_examples=10)
    assert verdict["status"] == "killed", verdict
    assert verdict["by"] == ["echo.order"]
    assert "twice" in verdict["detail"]


def test_an_operator_mutant_that_breaks_numbering_is_killed_by_echo_order(
        tmp_path: Path) -> None:
    """The statement-removal operator's own mutant: the client never counts its sends, so
    every message is n=0 and the second echo is a duplicate."""
    [mutant] = [m for site in all_sites(ECHO, check=True) for m in site
                if m.file == "client.py" and m.operator == "remove"
                and m.original == "self.sent += 1"]
    verdict = judge("echo", mutant, tmp_path, max_examples=10)
    assert (verdict["status"], verdict["by"]) == ("killed", ["echo.order"]), verdict


def test_a_mutant_that_never_returns_is_timed_out(tmp_path: Path) -> None:
    endless = Mutant.of(SERVER, "server.py", "self.echoed += 1", "while True: pass")
    verdict = judge("echo", endless, tmp_path, max_examples=10, timeout_s=3)
    assert verdict["status"] == "timed out", verdict
    assert 3 <= verdict["seconds"] < 30


def test_the_unmutated_package_passes_and_a_survivor_is_listed_with_its_diff(
        tmp_path: Path) -> None:
    assert judge("echo", None, tmp_path, max_examples=10)["status"] == "survived"
    counter = Mutant.of(SERVER, "server.py", "self.echoed = 0", "self.echoed = 1", "int")
    verdict = judge("echo", counter, tmp_path, max_examples=10)
    assert verdict["status"] == "survived", verdict  # no monitor reads the server's counter
    campaign = Campaign(Settings("echo", "fixed", 0, 10), "gatewaysim.models.echo", ECHO,
                        tmp_path, {"status": "survived", "seconds": 1.0}, (counter,),
                        {counter.id: verdict}, 0)
    text = render(campaign, {})
    survivors = text[text.index("survivors (1)"):]
    assert counter.id in survivors
    assert "-        self.echoed = 0" in survivors and "+        self.echoed = 1" in survivors
    assert text.splitlines()[-1] == "mutation score: 0.0% (0 killed of 1)"
    reviewed = render(campaign, {counter.id: "a counter only statistics() reports"})
    assert "survivors" not in reviewed and "a counter only statistics() reports" in reviewed
    assert reviewed.splitlines()[-1] == "mutation score: n/a (no mutant judged)"


def test_crashes_count_as_not_killed_and_the_rest_is_shown_beside_the_score(
        tmp_path: Path) -> None:
    a = Mutant.of(SERVER, "server.py", "self.echoed = 0", "self.echoed = 1", "int")
    b = Mutant.of(SERVER, "server.py", "self.echoed += 1", "self.echoed -= 1", "hand")
    campaign = Campaign(Settings("echo", "fixed", 0, 10), "gatewaysim.models.echo", ECHO,
                        tmp_path, {"status": "survived", "seconds": 1.0}, (a, b),
                        {a.id: {"status": "killed", "by": ["echo.order"]},
                         b.id: {"status": "crashed", "detail": "NameError"}}, 0)
    lines = render(campaign, {}).splitlines()
    assert lines[-1] == "mutation score: 50.0% (1 killed of 2)"
    assert lines[-2] == ("of the 1 that did not crash, the invariants killed 1 (100.0%); the "
                         "score counts crashes as not killed")


def test_a_campaign_leaves_the_users_files_alone_and_resumes(
        gatewaysim: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _snapshot(ECHO)
    work = tmp_path / "work"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    status, out, err = gatewaysim("mutate", "echo", "--mutants", "3", "--max-examples", "10",
                                  "--workers", "2", "--work", str(work))
    assert status == 0, err
    assert _snapshot(ECHO) == before
    assert list(cwd.iterdir()) == []  # no .hypothesis, no copies in the working directory
    assert re.fullmatch(r"mutation score: \d+\.\d% \(\d+ killed of 3\)", out.splitlines()[-1])
    assert "3 of 3 mutants judged" in out
    first = json.loads((work / "results.json").read_text())["results"]
    assert len(first) == 3
    equivalents = load_equivalents(ECHO)
    for mutant_id, verdict in first.items():
        if verdict["status"] == "survived" and mutant_id not in equivalents:
            assert f"{mutant_id}\n--- a/echo/" in out  # each survivor with its diff

    status, out2, err2 = gatewaysim("mutate", "echo", "--mutants", "4", "--max-examples",
                                    "10", "--workers", "1", "--work", str(work), "--resume")
    assert status == 0, err2
    assert "4 mutants: 3 already judged, 1 to run" in err2
    assert "baseline:" not in err2  # the baseline is kept too
    second = json.loads((work / "results.json").read_text())["results"]
    assert len(second) == 4
    assert {i: second[i] for i in first} == first  # timings included: not run again
    assert "4 of 4 mutants judged" in out2
    assert _snapshot(ECHO) == before


@pytest.mark.parametrize("argv, message", [
    (["nosuchpack"], "unknown pack"),
    (["echo", "--variant", "nope"], "has no variant 'nope'"),
    (["echo", "--mutants", "0"], "must be from 1"),
    (["echo", "--resume"], "--resume needs --work"),
    (["echo", "--seed", "x"], "expected an integer"),
])
def test_bad_input_is_one_line_and_status_2(gatewaysim: Run, argv: list[str],
                                             message: str) -> None:
    status, out, err = gatewaysim("mutate", *argv)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err


def test_a_campaign_runs_the_package_as_it_was_when_it_started(gatewaysim: Run,
                                                                tmp_path: Path) -> None:
    """Mutants are made from a snapshot taken at the start (so an edit to the package during
    the campaign cannot tear it), and a campaign whose snapshot no longer matches what it
    recorded is not resumed."""
    work = tmp_path / "work"
    work.mkdir()
    campaign = mutate("echo", mutants=2, max_examples=10, workers=1, work=work)
    snapshot = work / "source" / "echo"
    assert campaign.source_dir == snapshot and _snapshot(snapshot) == _snapshot(ECHO)
    data = json.loads((work / "results.json").read_text())
    (snapshot / "server.py").write_text("# edited\n" + SERVER, encoding="utf-8")
    status, _, err = gatewaysim("mutate", "echo", "--mutants", "2", "--max-examples", "10",
                                "--work", str(work), "--resume")
    assert status == 2 and "changed since the campaign" in err
    assert json.loads((work / "results.json").read_text()) == data


def test_a_variant_that_fails_unmutated_is_bad_input(gatewaysim: Run) -> None:
    status, out, err = gatewaysim("mutate", "echo", "--variant", "buggy", "--max-examples",
                                  "10")
    assert status == 2 and out == ""
    *progress, last = err.strip().splitlines()
    assert last.startswith("gatewaysim: error: pack 'echo' variant 'buggy' does not pass "
                           "unmutated (violates echo.order")
    assert all(line.startswith("baseline:") for line in progress)
    assert "Traceback" not in err


def test_a_work_directory_in_use_needs_resume(gatewaysim: Run, tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{}")
    status, _, err = gatewaysim("mutate", "echo", "--work", str(tmp_path))
    assert status == 2 and "pass --resume" in err and len(err.strip().splitlines()) == 1
    status, _, err = gatewaysim("mutate", "echo", "--work", str(tmp_path), "--resume")
    assert status == 2 and "not a mutation results file" in err
    file = tmp_path / "plain"
    file.write_text("")
    status, _, err = gatewaysim("mutate", "echo", "--work", str(file))
    assert status == 2 and "not a directory" in err


def test_the_echo_equivalents_are_reviewed_mutants_the_operators_make() -> None:
    """Each entry names a mutant the operators can make of today's echo code (a stale id,
    left behind by an edit, would silently stop counting) and says why it is equivalent."""
    equivalents = load_equivalents(ECHO)
    assert equivalents
    ids = {m.id for site in all_sites(ECHO, check=True) for m in site}
    for mutant_id, reason in equivalents.items():
        assert mutant_id in ids
        assert len(reason.split()) >= 10


def test_ctrl_c_stops_the_mutants_and_prints_what_is_done(tmp_path: Path) -> None:
    work = tmp_path / "work"
    # Python's default Ctrl-C handler, even if this test run ignores SIGINT (a background
    # job of a non-interactive shell does, and its children inherit that).
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from gatewaysim import cli; sys.exit(cli.main(sys.argv[1:]))")
    argv = ["mutate", "echo", "--mutants", "6", "--max-examples", "10", "--workers", "1",
            "--work", str(work)]
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    results = work / "results.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and json.loads(results.read_text())["results"]:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "gatewaysim: interrupted"
    judged = json.loads(results.read_text())["results"]
    assert 1 <= len(judged) < 6
    assert f"{len(judged)} of 6 mutants judged (interrupted" in out
    assert out.strip().splitlines()[-1].startswith("mutation score: ")
    assert not (work / "mutants").exists() or not any((work / "mutants").iterdir())


def test_a_mutant_whose_model_cannot_run_is_stillborn_and_not_counted(tmp_path: Path) -> None:
    """The client never sets its server: every run fails at boot, as a mutant that does not
    compile would. It is booked stillborn and left out of the score, and the report says
    what the score would be if it counted."""
    client = (ECHO / "client.py").read_text(encoding="utf-8")
    unborn = Mutant.of(client, "client.py", "self.server = server", "pass", "remove")
    verdict = judge("echo", unborn, tmp_path, max_examples=10)
    assert verdict["status"] == "stillborn", verdict
    assert verdict["detail"].startswith("empty run: AttributeError"), verdict
    killer = Mutant.of(SERVER, "server.py", "return [Send(conn, data)]",
                       "return [Send(conn, data), Send(conn, data)]")
    campaign = Campaign(Settings("echo", "fixed", 0, 10), "gatewaysim.models.echo", ECHO,
                        tmp_path, {"status": "survived", "seconds": 1.0}, (unborn, killer),
                        {unborn.id: verdict, killer.id: {"status": "killed",
                                                          "by": ["echo.order"]}}, 0)
    lines = render(campaign, {}).splitlines()
    assert lines[-1] == "mutation score: 100.0% (1 killed of 1)"
    assert lines[-2].startswith("1 stillborn (the mutated model fails its empty run")
    assert lines[-2].endswith("counted as not killed, the score would be 50.0%")


def test_a_mutant_that_fails_only_when_driven_is_judged_not_stillborn(
        tmp_path: Path) -> None:
    """The client raises when its socket closes: the empty run closes none and passes, so
    the campaign judges it. Its runs end at the first drop or crash, and the monitor
    waiting for a reconnect after a fault is never reached: killed, and counted."""
    client = (ECHO / "client.py").read_text(encoding="utf-8")
    raises = Mutant.of(client, "client.py", "self.conn = None",
                       "raise RuntimeError('close failed')", "hand")
    verdict = judge("echo", raises, tmp_path, max_examples=10)
    assert verdict["status"] == "killed", verdict
    assert verdict["by"] == ["echo.reconnected_after_fault"], verdict
