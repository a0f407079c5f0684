"""Start-up of the ``igor>`` shell: wall time from starting ``igor`` (no arguments) on a pseudo-terminal to the
first ``igor>`` prompt on the screen, against SPEC.md §2's 300 ms. For scale it also times the floor: a bare
prompt_toolkit ``PromptSession().prompt()`` started the same way.

The client home is a fresh temporary directory and ``$IGOR_SERVER`` points at a closed loopback port, so nothing
waits on a network (completion values load in the background anyway). ``PYTHONDONTWRITEBYTECODE`` is removed from
the environment so that the runs measure what an installed package does (compiled bytecode), not recompilation.

Run alone: ``python -m benchmarks.shell_startup [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.300
BARE = "from prompt_toolkit import PromptSession; PromptSession('igor> ').prompt()"


def _igor() -> list[str]:
    script = Path(sys.executable).parent / "igor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "igor.cli.entry"]


def time_to_prompt(command: list[str], env: dict[str, str], timeout: float = 10.0) -> float:
    """Seconds from spawning ``command`` on a pseudo-terminal until it prints ``igor>``; then sends Ctrl-D."""
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while b"igor>" not in seen:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise TimeoutError(f"no prompt from {command} within {timeout}s: {seen[-200:]!r}")
            seen += os.read(master, 65536)
        elapsed = time.perf_counter() - start
        os.write(master, b"\x04")
        proc.wait(timeout)
        return elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def measure(runs: int = 15) -> dict:
    """Median and p90 of ``igor``'s time to prompt and of the bare prompt_toolkit floor (one warm-up each)."""
    home = Path(tempfile.mkdtemp(prefix="igor-shell-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"IGOR_CLIENT_HOME": str(home), "IGOR_SERVER": "http://127.0.0.1:9", "TERM": "xterm"})
    env.pop("IGOR_CLIENT_CONFIG", None)
    try:
        result = {}
        for name, command in (("igor", _igor()), ("bare prompt_toolkit", [sys.executable, "-c", BARE])):
            time_to_prompt(command, env)  # warm-up: bytecode written, files in the page cache
            samples = sorted(time_to_prompt(command, env) for _ in range(runs))
            result[name] = {"p50_s": statistics.median(samples), "p90_s": samples[int(0.9 * (len(samples) - 1))],
                            "min_s": samples[0], "runs": runs}
        result["load_average"] = os.getloadavg()
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.shell_startup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    m = measure(ap.parse_args().runs)
    for name in ("igor", "bare prompt_toolkit"):
        r = m[name]
        p50, p90, low = (r[k] * 1e3 for k in ("p50_s", "p90_s", "min_s"))
        print(f"{name:20s} p50 {p50:5.0f} ms  p90 {p90:5.0f} ms  min {low:5.0f} ms")
    print(f"target: first prompt within {TARGET_S * 1e3:.0f} ms (p50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
