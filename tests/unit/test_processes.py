"""harness.processes: no child popcert starts outlives it, however the child or popcert behaves.

Real processes (python -c), no network. Each test waits on a condition with a generous bound,
never on a measured time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import processes
from harness.config import REPO_ROOT
from tests.process_tree import kill_all, running, still_running, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")

# A child that ignores SIGTERM and leaves two grandchildren: one in its process group, one that
# escaped into a session of its own. It writes the three pids to argv[1].
STUBBORN = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    same_group = subprocess.Popen([sys.executable, "-c", code])
    own_session = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write(f"{os.getpid()} {same_group.pid} {own_session.pid}")
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(600)
""")


def read_pids(path: Path) -> list[int]:
    assert wait_for(path.exists), "the child never wrote its pids"
    return [int(p) for p in path.read_text().split()]


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test expects gone; killed afterwards whatever happened, so a failure leaks nothing."""
    pids: list[int] = []
    yield pids
    kill_all(pids)


def test_stop_kills_a_child_that_ignores_sigterm_and_its_grandchildren(
        tmp_path: Path, leftovers: list[int]) -> None:
    child = processes.spawn([sys.executable, "-c", STUBBORN, str(tmp_path / "pids")])
    pids = read_pids(tmp_path / "pids")
    leftovers += pids
    assert pids[0] == child.pid and all(running(p) for p in pids)
    child.stop(grace_s=0.5)
    assert child.returncode == -signal.SIGKILL
    assert wait_for(lambda: not still_running(pids)), still_running(pids)
    assert child not in processes.children()


def test_deadline_kills_the_whole_group(tmp_path: Path, leftovers: list[int]) -> None:
    child = processes.spawn([sys.executable, "-c", STUBBORN, str(tmp_path / "pids")],
                            deadline_s=1.0)
    pids = read_pids(tmp_path / "pids")
    leftovers += pids
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert child.timed_out
    assert wait_for(lambda: not still_running(pids))


def test_a_child_that_finishes_in_time_is_not_marked_timed_out() -> None:
    child = processes.spawn([sys.executable, "-c", "pass"], deadline_s=60)
    assert child.wait(timeout=60) == 0 and not child.timed_out
    assert child not in processes.children()


def test_child_leads_its_own_session_and_has_a_memory_cap(tmp_path: Path) -> None:
    code = ("import os, resource; print(os.getsid(0) == os.getpid(), "
            "resource.getrlimit(resource.RLIMIT_AS)[0])")
    child = processes.spawn([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            memory_limit_bytes=1024**3)
    out, _ = child.communicate(timeout=60)
    assert out.split() == ["True", str(1024**3)]


def test_stop_children_spares_what_was_started_before_the_mark(leftovers: list[int]) -> None:
    older = processes.spawn([sys.executable, "-c", "import time; time.sleep(600)"])
    leftovers.append(older.pid)
    mark = processes.mark()
    newer = processes.spawn([sys.executable, "-c", "import time; time.sleep(600)"])
    leftovers.append(newer.pid)
    assert processes.stop_children(newer_than=mark, grace_s=2) == 1
    assert newer.returncode is not None and older.poll() is None
    older.stop()


def test_a_spawn_that_fails_raises_in_the_caller_and_the_spawner_survives() -> None:
    with pytest.raises(FileNotFoundError):
        processes.spawn(["/nonexistent/popcert-no-such-program"])
    assert processes.spawn([sys.executable, "-c", "pass"]).wait(timeout=60) == 0


def _popcert_like(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    """A stand-in for the popcert process: imports harness.processes and runs ``body``."""
    script = tmp_path / "popcert_like.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from harness import processes
        STUBBORN = {STUBBORN!r}
        tmp = Path({str(tmp_path)!r})
    """) + textwrap.dedent(body))
    # Output to files, not pipes: a grandchild holding a pipe open would stall communicate().
    with (tmp_path / "out.txt").open("w") as out, (tmp_path / "err.txt").open("w") as err:
        return subprocess.Popen([sys.executable, str(script)], cwd=REPO_ROOT, text=True,
                                stdout=out, stderr=err,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def finish(popcert: subprocess.Popen[str], tmp_path: Path) -> tuple[str, str]:
    popcert.wait(timeout=60)
    return (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()


def test_sigkill_of_popcert_kills_its_children(tmp_path: Path, leftovers: list[int]) -> None:
    popcert = _popcert_like(tmp_path, """
        import threading
        # Spawned from a short-lived thread: the child must survive the thread, not popcert.
        worker = threading.Thread(target=lambda: processes.spawn(
            [sys.executable, "-c", STUBBORN, str(tmp / "pids")]))
        worker.start(); worker.join()
        time.sleep(600)
    """)
    try:
        pids = read_pids(tmp_path / "pids")
        leftovers += pids
        time.sleep(0.5)
        assert running(pids[0]), "the child died with the thread that spawned it"
        popcert.kill()
        popcert.wait(timeout=30)
        # Direct children only: a grandchild has no parent-death signal of popcert's.
        assert wait_for(lambda: not running(pids[0])), "the child outlived a SIGKILLed popcert"
    finally:
        popcert.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_exit_signal_ends_the_whole_tree_and_removes_secret_files(
        tmp_path: Path, leftovers: list[int], sig: int) -> None:
    plan = tmp_path / "plan.json"
    popcert = _popcert_like(tmp_path, """
        processes.exit_on_signals()
        secret = processes.remove_on_exit(tmp / "plan.json")
        secret.write_text('{"token": "secret"}')
        processes.spawn([sys.executable, "-c", STUBBORN, str(tmp / "pids")])
        try:
            time.sleep(600)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    try:
        pids = read_pids(tmp_path / "pids")
        leftovers += pids
        assert plan.exists()
        popcert.send_signal(sig)
        out, err = finish(popcert, tmp_path)
        assert "interrupted" in out, err
        assert popcert.returncode == 0, err
        assert wait_for(lambda: not still_running(pids)), still_running(pids)
        assert not plan.exists()
    finally:
        popcert.kill()


def test_normal_exit_ends_registered_children_and_removes_secret_files(
        tmp_path: Path, leftovers: list[int]) -> None:
    popcert = _popcert_like(tmp_path, """
        processes.remove_on_exit(tmp / "plan.json").write_text('{"token": "secret"}')
        processes.spawn([sys.executable, "-c", STUBBORN, str(tmp / "pids")])
        while not (tmp / "pids").exists():
            time.sleep(0.05)
    """)
    try:
        pids = read_pids(tmp_path / "pids")
        leftovers += pids
        _, err = finish(popcert, tmp_path)
        assert popcert.returncode == 0, err
        assert wait_for(lambda: not still_running(pids))
        assert not (tmp_path / "plan.json").exists()
    finally:
        popcert.kill()
