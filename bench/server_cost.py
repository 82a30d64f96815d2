"""`bench/run.py --server-cost`: what one credential statement costs PostgreSQL itself.

Under load PostgreSQL shares the machine's cores with the workers, so the CPU its backend
spends on a request's statement is taken from them. Each statement runs here as the server
runs it (as the application role, row-level security in force, prepared, one statement per
implicit transaction), in a loop, and the backend's own CPU time is read from
``/proc/<backend pid>/schedstat`` (nanoseconds on the CPU) before and after; the client's
CPU (psycopg parsing the row) and the wall time per round trip are printed beside it.
Statements are measured in interleaved rounds, medians printed, and the report is written to
bench/profiles/server_cost.txt.
"""

import statistics
import time
from pathlib import Path
from typing import Any

from bench.plans import statements


def floor_statement(seeded: dict[str, Any]) -> tuple[str, str, list[Any]]:
    import hashlib

    from bench.views import FLOOR_TABLE

    digest = hashlib.sha256(seeded["key"].encode()).hexdigest()
    return (
        "floor (bench/views.py)",
        f"SELECT id, org_id FROM {FLOOR_TABLE} WHERE digest = %s",
        [digest],
    )


def _backend_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def measure(
    app_url: str,
    seeded: dict[str, Any],
    out: Path,
    *,
    executions: int = 4000,
    rounds: int = 5,
    extra: list[tuple[str, str, list[Any]]] | None = None,
) -> str:
    """Per statement (text and binary results): the backend's CPU, the client's CPU and the
    wall time per execution, in µs (medians of ``rounds`` interleaved rounds)."""
    import psycopg

    cases = [floor_statement(seeded), *statements(seeded), *(extra or [])]
    results: dict[tuple[str, bool], list[tuple[float, float, float]]] = {}
    with psycopg.connect(app_url, autocommit=True, prepare_threshold=0) as connection:
        row = connection.execute("SELECT pg_backend_pid(), current_user").fetchone()
        assert row is not None
        pid, role = row
        cursors = {binary: connection.cursor(binary=binary) for binary in (False, True)}
        for label, text, params in cases:  # warm up: prepare, plan, caches
            for cursor in cursors.values():
                for _ in range(50):
                    cursor.execute(text, params, prepare=True)
                    assert cursor.fetchone() is not None, label
        for _ in range(rounds):
            for label, text, params in cases:
                for binary, cursor in cursors.items():
                    server, client = _backend_ns(pid), time.process_time()
                    started = time.perf_counter()
                    for _ in range(executions):
                        cursor.execute(text, params, prepare=True)
                        cursor.fetchone()
                    wall = time.perf_counter() - started
                    results.setdefault((label, binary), []).append(
                        (
                            (_backend_ns(pid) - server) / 1e3 / executions,
                            (time.process_time() - client) * 1e6 / executions,
                            wall * 1e6 / executions,
                        )
                    )
    lines = [
        f"Connected as {role} (row-level security in force); each statement prepared, "
        f"{executions} executions a round, median of {rounds} interleaved rounds; µs per "
        "execution: PostgreSQL backend CPU (/proc/<pid>/schedstat), client CPU (psycopg), "
        "wall time of the round trip.",
        "",
        f"{'statement':44s} {'results':>7s} {'backend':>8s} {'client':>8s} {'wall':>8s}",
    ]
    for (label, binary), samples in results.items():
        backend, client, wall = (statistics.median(s[i] for s in samples) for i in range(3))
        kind = "binary" if binary else "text"
        lines.append(f"{label[:44]:44s} {kind:>7s} {backend:8.1f} {client:8.1f} {wall:8.1f}")
    report = "\n".join(lines) + "\n"
    out.write_text(report)
    return report
