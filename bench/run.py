"""`make bench`: Tenantry's API under load, side by side with what people would pick instead.

Starts a throwaway PostgreSQL and Redis (tests/harness), migrates, seeds (bench/seed.py:
orgs, members, keys, a million audit events), starts gunicorn with production settings
(``bench.settings``: production's plus the comparison views) and ``workers = cores`` on
127.0.0.1, and drives every endpoint with wrk in short interleaved rounds, so that the
machine's noise falls on all of them alike. Prints one table (req/s, p50, p99) and the
ratios, and writes them to bench/results/latest.json. Asserts nothing: speed is measured
here, never in tests (query counts are asserted in tests).

    .venv/bin/python bench/run.py [--rounds 3] [--seconds 5] [--events 1000000]
    .venv/bin/python bench/run.py --profile me_key   # py-spy on one worker under that load
    .venv/bin/python bench/run.py --cpu 3 --only me_key,floor   # CPU per request, in-process
    .venv/bin/python bench/run.py --cpu 8 --rounds 1 --only me_key --profile me_key
    .venv/bin/python bench/run.py --events 2000 --plans   # the credential statements' plans
    .venv/bin/python bench/run.py --events 2000 --server-cost   # PostgreSQL CPU per statement
"""

import argparse
import base64
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WRK_DIR = BENCH / "wrk"
RESULTS = BENCH / "results"
PROFILES = BENCH / "profiles"
sys.path.insert(0, str(ROOT))

CONNECTIONS = 8  # wrk: 1 thread, 8 connections; gunicorn: sync workers = cores


@dataclass
class Endpoint:
    name: str
    label: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    script: str = "get.lua"
    kind: str = "ours"  # "ours" or "comparison"
    unavailable: str = ""  # why this row could not be measured


@dataclass
class Round:
    requests: int
    seconds: float
    non2xx: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="length of one round")
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events seeded")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy on one worker under load on these rows (with --cpu: on this process)",
    )
    parser.add_argument(
        "--cpu",
        type=float,
        default=0,
        help="instead of load: CPU time per request in this process, this many seconds a round",
    )
    parser.add_argument(
        "--plans",
        action="store_true",
        help="instead of load: the credential statements' plans (bench/profiles/plans.txt)",
    )
    parser.add_argument(
        "--server-cost",
        action="store_true",
        help="instead of load: PostgreSQL's CPU per credential statement (bench/server_cost.py)",
    )
    parser.add_argument("--out", default=str(RESULTS / "latest.json"))
    parser.add_argument("--markdown", default="", help="print a results JSON as markdown, exit")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install wrk)")

    from tests.harness.postgres import TempPostgres, free_port
    from tests.harness.redis import TempRedis

    print("starting PostgreSQL and Redis on 127.0.0.1 ...", flush=True)
    database = TempPostgres().start()
    cache = TempRedis()
    work = Path(tempfile.mkdtemp(prefix="tenantry-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "DATABASE_URL": database.url,
        "REDIS_URL": cache.url,
        "SECRET_KEY": "bench-" + os.urandom(32).hex(),
        "API_KEY_PEPPERS": "k1:" + os.urandom(32).hex(),
        "JWT_SIGNING_KEYS": "j1:" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Nothing is mailed while measuring; production refuses the console backend.
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PORTAL_URL": "https://portal.bench.invalid",
        "STATIC_ROOT": str(work / "static"),  # collected by the seed, as a deploy would
        # Production serves HTTPS behind a TLS terminator, which is not what is measured.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # Limits stay on (every request takes its buckets' tokens, reserved from Redis in
        # batches) but above what one client reaches here: the bench measures their cost,
        # not a wall of 429s. Any limit that lets one client make thousands of requests a
        # second batches at the cap (orgs.ratelimits.RESERVE_CAP), as these do.
        **{
            name: "100000000/m"
            for name in (
                "REFRESH_RATE",
                "LOGIN_RATE",
                "RATE_LIMIT_ORG",
                "RATE_LIMIT_KEY",
                "RATE_LIMIT_USER",
                "RATE_LIMIT_ANONYMOUS",
            )
        },
    }
    os.environ.update(env)
    server = None
    try:
        import django

        django.setup()
        from bench.seed import seed

        started = time.monotonic()
        seeded = seed(
            events=args.events,
            work=work,
            refresh_files=args.rounds + 1,  # the warm-up's and each round's
            refresh_per_file=refresh_per_round(args),
        )
        print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
        from django.db import connections

        if args.plans:
            from bench.plans import explain

            print(explain(database.app_url, seeded, PROFILES / "plans.txt"))
            return
        if args.server_cost:
            from bench.server_cost import measure as server_cost

            print(server_cost(database.app_url, seeded, PROFILES / "server_cost.txt"))
            return
        if args.cpu:
            wanted = set(args.only.split(",")) if args.only else None
            endpoints = [e for e in endpoint_table(seeded) if not wanted or e.name in wanted]
            profiled = set(filter(None, args.profile.split(",")))
            cpu_per_request(endpoints, args.cpu, args.rounds, profiled)
            return
        connections.close_all()

        port = free_port()
        # The server connects as the application role, as deployed (docs/deployment.md):
        # row-level security is in force on every request it serves.
        server = start_gunicorn({**env, "DATABASE_URL": database.app_url}, port, args.workers, work)
        base = f"http://127.0.0.1:{port}"
        endpoints = endpoint_table(seeded)
        if args.only:
            wanted = set(args.only.split(","))
            endpoints = [e for e in endpoints if e.name in wanted]
        check_answers(base, endpoints)
        if args.profile:
            for name in args.profile.split(","):
                profile(base, endpoints, name, server, seeded, work)
            return
        results = measure(base, endpoints, args, seeded)
        report(results, endpoints, args, seeded)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        database.stop()
        cache.stop()
        shutil.rmtree(work, ignore_errors=True)


def refresh_per_round(args: argparse.Namespace) -> int:
    # One fresh token per request: enough for 1,200 refreshes a second (or a profile run).
    return args.seconds * 1200 + 3000


def start_gunicorn(env: dict[str, str], port: int, workers: int, work: Path) -> subprocess.Popen:
    command = [
        # `python -m gunicorn`: the venv's scripts may name an interpreter that moved with it.
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "gunicorn",
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=sync",
        "--log-level=warning",
        f"--error-logfile={work / 'gunicorn.log'}",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                if r.status == 200:
                    print(f"gunicorn: {workers} sync workers on 127.0.0.1:{port}", flush=True)
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not answer: " + (work / "gunicorn.log").read_text()[-2000:])


def endpoint_table(seeded: dict) -> list[Endpoint]:
    key = {"X-API-Key": seeded["key"]}
    jwt = {"Authorization": f"Bearer {seeded['access_token']}"}
    session = Endpoint(
        "me_session",
        "GET /api/users/me (session cookie)",
        "GET",
        "/api/users/me",
        {"Cookie": seeded.get("session_cookie", "")},
    )
    if not seeded.get("session_cookie"):
        session.unavailable = seeded.get("session_missing", "no session authentication")
    return [
        Endpoint("health", "GET /api/health", "GET", "/api/health"),
        Endpoint("me_key", "GET /api/users/me (API key)", "GET", "/api/users/me", key),
        Endpoint("me_jwt", "GET /api/users/me (JWT)", "GET", "/api/users/me", jwt),
        session,
        Endpoint("keys_list", "GET /api/api-keys", "GET", "/api/api-keys", key),
        Endpoint("keys_create", "POST /api/api-keys", "POST", "/api/api-keys", key, "post_key.lua"),
        Endpoint(
            "refresh", "POST /api/auth/refresh", "POST", "/api/auth/refresh", script="refresh.lua"
        ),
        Endpoint(
            "audit_first", "GET /api/audit-events (first page)", "GET", "/api/audit-events", key
        ),
        Endpoint(
            "audit_deep",
            "GET /api/audit-events (10,000 pages deep)",
            "GET",
            f"/api/audit-events?cursor={seeded['deep_cursor']}",
            key,
        ),
        Endpoint(
            "django_health",
            "bare Django JsonResponse health",
            "GET",
            "/api/_bench/django-health",
            kind="comparison",
        ),
        Endpoint(
            "drf_noauth",
            "plain DRF view, no auth",
            "GET",
            "/api/_bench/drf-noauth",
            kind="comparison",
        ),
        Endpoint(
            "floor",
            "floor: SHA-256 + one raw indexed SQL lookup",
            "GET",
            "/api/_bench/floor",
            {"X-API-Key": seeded["key"]},
            kind="comparison",
        ),
        Endpoint(
            "drf_api_key",
            "djangorestframework-api-key HasAPIKey",
            "GET",
            "/api/_bench/drf-api-key",
            {"Authorization": f"Api-Key {seeded['drf_api_key']}"},
            kind="comparison",
        ),
    ]


def check_answers(base: str, endpoints: list[Endpoint]) -> None:
    """Each GET answers 200 before it is measured: a bench of 401s would measure nothing."""
    for endpoint in endpoints:
        if endpoint.unavailable or endpoint.method != "GET":
            continue
        request = urllib.request.Request(base + endpoint.path, headers=endpoint.headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        if status != 200:
            sys.exit(f"{endpoint.label} answered {status}, not 200: fix the bench first")


def wrk(base: str, endpoint: Endpoint, seconds: float, script_args: list[str]) -> Round:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        (WRK_DIR / endpoint.script).read_text() + "\n" + (WRK_DIR / "report.lua").read_text()
    )
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{round(seconds)}s", "--timeout", "10s"]
    for name, value in endpoint.headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(script), base + endpoint.path]
    if script_args:
        command += ["--", *script_args]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Round(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
    )


def measure(base: str, endpoints: list[Endpoint], args, seeded: dict) -> dict[str, list[Round]]:
    from bench.seed import last_used_writes

    tokens = iter(seeded["refresh_token_files"])
    results: dict[str, list[Round]] = {e.name: [] for e in endpoints}
    live = [e for e in endpoints if not e.unavailable]
    print(f"warming up {len(live)} endpoints ...", flush=True)
    for endpoint in live:
        wrk(base, endpoint, 1, [next(tokens)] if endpoint.script == "refresh.lua" else [])
    writes_before = last_used_writes(seeded["key_id"])
    load_started = time.monotonic()
    for number in range(1, args.rounds + 1):
        print(f"round {number}/{args.rounds}", flush=True)
        for endpoint in live:  # interleaved: noise falls on every endpoint alike
            extra = [next(tokens)] if endpoint.script == "refresh.lua" else []
            results[endpoint.name].append(wrk(base, endpoint, args.seconds, extra))
    seeded["load_seconds"] = time.monotonic() - load_started
    seeded["last_used_writes"] = last_used_writes(seeded["key_id"]) - writes_before
    return results


def median_round(rounds: list[Round]) -> Round:
    return sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]


def report(results: dict[str, list[Round]], endpoints: list[Endpoint], args, seeded) -> None:
    rows: list[dict[str, Any]] = []
    for endpoint in endpoints:
        rounds = results.get(endpoint.name) or []
        if endpoint.unavailable or not rounds:
            rows.append(
                {
                    "name": endpoint.name,
                    "label": endpoint.label,
                    "kind": endpoint.kind,
                    "unavailable": endpoint.unavailable or "not measured",
                }
            )
            continue
        middle = median_round(rounds)
        total = sum(r.requests for r in rounds)
        rows.append(
            {
                "name": endpoint.name,
                "label": endpoint.label,
                "kind": endpoint.kind,
                "rps": round(statistics.median(r.rps for r in rounds), 1),
                "rps_rounds": [round(r.rps, 1) for r in rounds],
                "p50_ms": round(middle.p50_ms, 2),
                "p99_ms": round(middle.p99_ms, 2),
                "requests": total,
                "non2xx": sum(r.non2xx for r in rounds),
                "socket_errors": sum(r.errors for r in rounds),
            }
        )
    rps: dict[str, float] = {row["name"]: row["rps"] for row in rows if "rps" in row}

    def ratio(a: str, b: str) -> float | None:
        return round(rps[a] / rps[b], 2) if a in rps and b in rps else None

    ratios = {
        "me_key / floor": ratio("me_key", "floor"),
        "me_key / drf_api_key": ratio("me_key", "drf_api_key"),
        "me_jwt / floor": ratio("me_jwt", "floor"),
        "me_session / floor": ratio("me_session", "floor"),
        "me_key / health": ratio("me_key", "health"),
        "me_jwt / health": ratio("me_jwt", "health"),
        "health / django_health": ratio("health", "django_health"),
        "audit_deep / audit_first": ratio("audit_deep", "audit_first"),
    }
    minutes = seeded["load_seconds"] / 60
    writes = {
        "hot_key_last_used_writes": seeded["last_used_writes"],
        "load_seconds": round(seeded["load_seconds"], 1),
        "bound": math.ceil(minutes) + 1,  # at most one per started minute (+ the edge)
    }
    print()
    print(f"{'endpoint':46s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'non-2xx':>8s}")
    for row in rows:
        if "unavailable" in row:
            print(f"{row['label']:46s} {'n/a':>8s}  ({row['unavailable']})")
            continue
        print(
            f"{row['label']:46s} {row['rps']:8.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f}"
            f" {row['non2xx']:8d}"
        )
    print()
    for name, value in ratios.items():
        print(f"{name:28s} {'n/a' if value is None else f'{value:.2f}x'}")
    print(
        f"\nlast_used_at writes of the hot key under load: {writes['hot_key_last_used_writes']}"
        f" in {writes['load_seconds']:.0f} s (at most one a minute: <= {writes['bound']})"
    )
    document = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "workers": args.workers,
            "worker_class": "sync",
            "wrk": f"1 thread, {CONNECTIONS} connections",
            "rounds": args.rounds,
            "seconds_per_round": args.seconds,
            "audit_events": seeded["events"],
        },
        "endpoints": rows,
        "ratios": ratios,
        "last_used_at": writes,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to {out}")


def markdown(document: dict[str, Any]) -> str:
    """The README's table and ratios, from a results JSON."""
    lines = ["| endpoint | req/s | p50 ms | p99 ms | non-2xx |", "|---|---:|---:|---:|---:|"]
    for row in document["endpoints"]:
        if "unavailable" in row:
            lines.append(f"| {row['label']} | n/a ({row['unavailable']}) | | | |")
            continue
        label = row["label"] if row["kind"] == "ours" else f"*{row['label']}*"
        lines.append(
            f"| {label} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f}"
            f" | {row['non2xx']} |"
        )
    lines += ["", "| ratio | |", "|---|---:|"]
    for name, value in document["ratios"].items():
        lines.append(f"| {name} | {'n/a' if value is None else f'{value:.2f}x'} |")
    used = document["last_used_at"]
    lines += [
        "",
        f"`last_used_at` writes of the hot key under load: {used['hot_key_last_used_writes']} in"
        f" {used['load_seconds']:.0f} s (at most one a minute: <= {used['bound']}).",
    ]
    return "\n".join(lines)


def profile(base: str, endpoints, name: str, server, seeded: dict, work: Path) -> None:
    """Sample one gunicorn worker with py-spy while wrk loads ``name``; keep the flame graph
    and a text summary (inclusive and own share of samples per function) in bench/profiles."""
    endpoint = next(e for e in endpoints if e.name == name)
    workers = subprocess.run(
        ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    PROFILES.mkdir(exist_ok=True)
    raw = work / "profile.txt"
    spy = ROOT / ".venv" / "bin" / "py-spy"
    seconds = 15
    extra = [seeded["refresh_token_files"][0]] if endpoint.script == "refresh.lua" else []
    sampler = subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            workers[0],
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
    )
    wrk(base, endpoint, seconds + 2, extra)
    sampler.wait()
    summary = summarize_stacks(raw.read_text())
    (PROFILES / f"{name}.txt").write_text(
        f"py-spy, one worker, under wrk on {endpoint.label}\n{summary}"
    )
    shutil.copy(raw, PROFILES / f"{name}.collapsed")
    print(summary)
    print(f"profile written to {PROFILES / name}.txt (collapsed stacks: .collapsed)")


def cpu_per_request(
    endpoints: list[Endpoint], seconds: float, rounds: int, profiled: set[str]
) -> None:
    """The worker's own CPU (user + system) per request, measured in this process: Django's
    WSGI handler called directly, the database and Redis on real sockets, no HTTP server and
    no load generator. Waiting for PostgreSQL or Redis costs no CPU here, so this reads what
    the Python around them costs, which wall-clock figures on a shared machine blur. With
    ``--profile``, py-spy samples the named rows (bench/profiles/cpu/<row>.txt)."""
    import io

    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def call(endpoint: Endpoint) -> str:
        path, _, query = endpoint.path.partition("?")
        environ = {
            "REQUEST_METHOD": endpoint.method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in endpoint.headers.items()},
        }
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return lambda data: None

        body: Any = handler(environ, start_response)
        for _ in body:
            pass
        body.close()  # runs the response's closers (the last-used write)
        return statuses[0]

    live = [e for e in endpoints if not e.unavailable and e.method == "GET"]
    for endpoint in live:  # warm up: imports, prepared statements, pools
        for _ in range(200):
            status = call(endpoint)
        if not status.startswith("200"):
            sys.exit(f"{endpoint.label} answered {status}")
    spent: dict[str, list[float]] = {e.name: [] for e in live}
    for number in range(1, rounds + 1):  # interleaved, as the load rounds are
        print(f"round {number}/{rounds}", flush=True)
        for endpoint in live:
            sampler = sample_self(seconds) if endpoint.name in profiled else None
            count = 0
            started, deadline = time.process_time(), time.monotonic() + seconds
            while time.monotonic() < deadline:
                call(endpoint)
                count += 1
            spent[endpoint.name].append(1e6 * (time.process_time() - started) / count)
            if sampler:
                sampler.wait()
                stacks = (WORK_PROFILE).read_text().splitlines()
                mine = "\n".join(line for line in stacks if "cpu_per_request.<locals>.call" in line)
                summary = summarize_stacks(mine, top=80)
                (PROFILES / "cpu").mkdir(parents=True, exist_ok=True)
                (PROFILES / "cpu" / f"{endpoint.name}.txt").write_text(
                    f"py-spy --gil, in-process (bench/run.py --cpu), {endpoint.label}\n{summary}"
                )
                print(f"profile written to {PROFILES / 'cpu' / endpoint.name}.txt", flush=True)
    floor = statistics.median(spent["floor"]) if "floor" in spent else None
    print(f"\n{'endpoint':46s} {'CPU us/request':>15s} {'x floor':>8s}")
    for endpoint in live:
        median = statistics.median(spent[endpoint.name])
        times = f"{median / floor:8.2f}" if floor else ""
        print(f"{endpoint.label:46s} {median:15.0f} {times}")


WORK_PROFILE = Path(tempfile.gettempdir()) / f"tenantry-bench-cpu-{os.getpid()}.txt"


def sample_self(seconds: float) -> subprocess.Popen:
    """py-spy on this very process (only while it holds the GIL: its own CPU, no waits)."""
    sampler = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(os.getpid()),
         "--duration", str(math.ceil(seconds)), "--rate", "500", "--gil", "--format", "raw",
         "--output", str(WORK_PROFILE)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)  # attached before the measured loop starts
    return sampler


def summarize_stacks(collapsed: str, top: int = 40) -> str:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        # One entry per function, whichever of its lines was running.
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    lines = [f"{total} samples\n", "inclusive %  function"]
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / total:10.1f}  {frame}")
    lines += ["", "own %  function"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[: top // 2]:
        lines.append(f"{100 * count / total:6.1f}  {frame}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
