"""Fleet start under throttling: N tasks start at once against a token-bucket endpoint.

Run through ``bench/run fleet``. For each retry policy and each fleet size N, N copies of

    shortcut-env -- date +%s%N

are spawned, each held at a barrier (a shell blocked opening a FIFO) until all N are ready; the
barrier is then released and every task execs shortcut-env at the same instant. The endpoint
(bench/endpoint.py) hands out R tokens a second (bucket size B) and answers ThrottlingException
beyond that. A task's time to exec is the time `date` prints minus the release time; success is
exit status 0; calls per start are the endpoint's POST count divided by N.

Scaling: the real GetSecretValue quota is 10,000 requests/s per account and region. A fleet of N
tasks against R/s here stands for a fleet of N x (10,000 / R) tasks against the real quota, as
long as the tasks' own start-up spread stays small next to the retry backoff (seconds); on this
2-core machine starting 1000 processes at once is itself CPU-bound, which the unthrottled row of
each size shows and which spreads the arrivals (that helps the throttled runs a little).
Results go to bench/results/fleet.{md,json,png}.
"""

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from startup import machine

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
QUOTA = 10_000  # GetSecretValue requests per second, per account and region (AWS, March 2025)

# name → (SHORTCUT_ENV_* settings, description). Values are the wrapper's own options.
POLICIES = {
    # The SDK's standard policy, shortcut-env's default before this benchmark chose another.
    "default": (
        {"SHORTCUT_ENV_MAX_ATTEMPTS": "3", "SHORTCUT_ENV_INITIAL_BACKOFF": "1",
         "SHORTCUT_ENV_TIMEOUT": "5"},
        "standard, 3 attempts, backoff ≤1 s·2ⁿ, 5 s deadline",
    ),
    "adaptive": (
        {"SHORTCUT_ENV_RETRY_MODE": "adaptive", "SHORTCUT_ENV_MAX_ATTEMPTS": "3",
         "SHORTCUT_ENV_INITIAL_BACKOFF": "1", "SHORTCUT_ENV_TIMEOUT": "5"},
        "adaptive, 3 attempts, 5 s deadline",
    ),
    "standard-5": (
        {"SHORTCUT_ENV_MAX_ATTEMPTS": "5", "SHORTCUT_ENV_INITIAL_BACKOFF": "1",
         "SHORTCUT_ENV_TIMEOUT": "15"},
        "standard, 5 attempts, backoff ≤1 s·2ⁿ, 15 s deadline",
    ),
    "standard-5-10s": (
        {"SHORTCUT_ENV_MAX_ATTEMPTS": "5", "SHORTCUT_ENV_INITIAL_BACKOFF": "1",
         "SHORTCUT_ENV_TIMEOUT": "10"},
        "standard, 5 attempts, backoff ≤1 s·2ⁿ, 10 s deadline",
    ),
    "wide-jitter-5": (
        {"SHORTCUT_ENV_MAX_ATTEMPTS": "5", "SHORTCUT_ENV_INITIAL_BACKOFF": "2",
         "SHORTCUT_ENV_TIMEOUT": "30"},
        "standard, 5 attempts, backoff ≤2 s·2ⁿ, 30 s deadline",
    ),
    "adaptive-5": (
        {"SHORTCUT_ENV_RETRY_MODE": "adaptive", "SHORTCUT_ENV_MAX_ATTEMPTS": "5",
         "SHORTCUT_ENV_INITIAL_BACKOFF": "1", "SHORTCUT_ENV_TIMEOUT": "15"},
        "adaptive, 5 attempts, 15 s deadline",
    ),
}


def http(port: int, method: str, path: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def run_fleet(binary: Path, n: int, port: int, settings: dict[str, str], work: Path) -> dict:
    for sub in ("ready", "out", "err", "creds"):
        (work / sub).mkdir(mode=0o700, exist_ok=True)
    fifo = work / "go"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
        "APP_ENV": "production",
        "SECRET_NAME": "short-cut/prod/app",
        "SHORTCUT_ENV_CREDENTIALS_DIR": str(work / "creds"),
        "BIN": str(binary),
        "W": str(work),
        **settings,
    }
    script = ': > "$W/ready/$1"; read -r _ < "$W/go"; ' \
             'exec "$BIN" -- date +%s%N > "$W/out/$1" 2> "$W/err/$1"'
    http(port, "POST", "/__reset")
    procs = [subprocess.Popen(["sh", "-c", script, "sh", str(i)], env=env, stdin=subprocess.DEVNULL)
             for i in range(n)]
    deadline = time.monotonic() + 120
    while len(os.listdir(work / "ready")) < n:
        if time.monotonic() > deadline:
            raise SystemExit("the tasks did not all reach the barrier within 120 s")
        time.sleep(0.05)
    time.sleep(0.3)  # the last shells get from `: >` into the blocking open of the FIFO
    released = time.time_ns()
    with open(fifo, "w", encoding="utf-8"):
        time.sleep(0.05)
    codes = [p.wait(timeout=300) for p in procs]
    wall = (time.time_ns() - released) / 1e9
    stats = http(port, "GET", "/__stats")

    ok_times, codes_seen = [], {}
    for i, code in enumerate(codes):
        codes_seen[code] = codes_seen.get(code, 0) + 1
        if code == 0:
            ok_times.append((int((work / "out" / str(i)).read_text().strip()) - released) / 1e6)
    failures = {"throttled": 0, "deadline": 0, "other": 0}
    for i, code in enumerate(codes):
        if code != 0:
            text = (work / "err" / str(i)).read_text()
            kind = "throttled" if "hrottl" in text else "deadline" if "did not finish" in text else "other"
            failures[kind] += 1
    arrivals = None
    if stats["first_call"] and stats["last_call"]:
        arrivals = (stats["first_call"] - released / 1e9, stats["last_call"] - released / 1e9)
    for sub in ("ready", "out", "err", "creds"):
        for f in (work / sub).iterdir():
            f.unlink()
    return {
        "n": n,
        "success": codes_seen.get(0, 0),
        "success_rate": codes_seen.get(0, 0) / n,
        "exit_codes": {str(k): v for k, v in sorted(codes_seen.items())},
        "failures": failures,
        "p50_ms": percentile(ok_times, 50),
        "p99_ms": percentile(ok_times, 99),
        "max_ms": max(ok_times) if ok_times else None,
        "calls": stats["calls"],
        "throttled_calls": stats["throttled"],
        "calls_per_start": stats["calls"] / n,
        "first_call_s": arrivals[0] if arrivals else None,
        "last_call_s": arrivals[1] if arrivals else None,
        "wall_s": wall,
    }


def start_endpoint(rate: float, burst: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "endpoint.py"), "--rate", str(rate), "--burst", str(burst)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    # The real service does not share the tasks' CPUs: run the endpoint ahead of them, so that
    # its answers are not delayed by a thousand starting processes.
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, max(-20, os.getpriority(os.PRIO_PROCESS, 0) - 5))
    except PermissionError:
        pass
    return proc, int(proc.stdout.readline())


def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v / 1000:.2f} s"


def markdown(report: dict) -> str:
    rate, burst, factor = report["rate"], report["burst"], QUOTA / report["rate"]
    lines = [
        f"Measured {report['date']} on {report['machine']}. Endpoint: bench/endpoint.py, token bucket "
        f"of {rate:g} requests/s (bucket {burst:g}), ThrottlingException beyond. One run per cell. "
        f"Scale: × {factor:g} gives the real quota ({QUOTA:,}/s), so N here stands for "
        f"N × {factor:g} tasks started at the same instant in one account and region.",
        "",
        "| policy | N (≙ real) | success | failed: throttled / deadline | p50 to exec | p99 to exec | "
        "API calls / start | throttled calls | last call after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['policy']} | {row['n']} (≙ {row['n'] * factor:,.0f}) | {row['success_rate'] * 100:.1f} % | "
            f"{row['failures']['throttled']} / {row['failures']['deadline']}"
            f"{' + ' + str(row['failures']['other']) + ' other' if row['failures']['other'] else ''} | "
            f"{fmt_ms(row['p50_ms'])} | {fmt_ms(row['p99_ms'])} | {row['calls_per_start']:.2f} | "
            f"{row['throttled_calls']} | {row['last_call_s']:.2f} s |")
    lines += ["", "Policies: " + "; ".join(f"**{k}** = {v}" for k, v in report["policies"].items()) + ".", ""]
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    policies = [p for p in report["policies"]]
    for policy in policies:
        rows = [r for r in report["rows"] if r["policy"] == policy]
        ns = [r["n"] for r in rows]
        axes[0].plot(ns, [r["success_rate"] * 100 for r in rows], marker="o", label=policy)
        axes[1].plot(ns, [(r["p99_ms"] or 0) / 1000 for r in rows], marker="o", label=policy)
    axes[0].set_ylabel("tasks that exec'd (%)")
    axes[1].set_ylabel("p99 time to exec (s)")
    for ax in axes:
        ax.set_xlabel(f"tasks started at once (bucket {report['rate']:g}/s)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Fleet start under throttling ({report['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path)
    parser.add_argument("--sizes", default="200,500,1000")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=float, default=None, help="default: the rate")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--name", default="fleet", help="results/NAME.{json,md,png}")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the tables and chart from results/fleet.json")
    args = parser.parse_args()
    if args.replot:
        write(json.loads((RESULTS / f"{args.name}.json").read_text()), args.name)
        return
    burst = args.burst if args.burst is not None else args.rate
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = args.policies.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
    del soft

    RESULTS.mkdir(exist_ok=True)
    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "rate": args.rate,
              "burst": burst, "policies": {p: POLICIES[p][1] for p in chosen}, "rows": [], "baseline": [],
              "load_before": os.getloadavg()[0]}
    free, free_port = start_endpoint(0, 0)
    limited, port = start_endpoint(args.rate, burst)
    try:
        with tempfile.TemporaryDirectory(prefix="shortcut-env-fleet-") as tmp:
            for n in sizes:
                row = run_fleet(args.binary, n, free_port, {}, Path(tmp))
                row["policy"] = "unthrottled"
                report["baseline"].append(row)
                print(json.dumps(row), file=sys.stderr)
            for policy in chosen:
                for n in sizes:
                    row = run_fleet(args.binary, n, port, POLICIES[policy][0], Path(tmp))
                    row["policy"] = policy
                    report["rows"].append(row)
                    print(json.dumps(row), file=sys.stderr)
                    time.sleep(1)
    finally:
        for proc in (free, limited):
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
    report["load_after"] = os.getloadavg()[0]
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    write(report, args.name)


def write(report: dict, name: str) -> None:
    text = markdown(report)
    base = ["", "Without throttling (the same endpoint, no bucket): what starting N processes at once "
            "costs on this machine by itself.", "",
            "| N | success | failed: deadline | p50 to exec | p99 to exec | first call after | last call after |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in report["baseline"]:
        base.append(f"| {row['n']} | {row['success_rate'] * 100:.1f} % | {row['failures']['deadline']} | "
                    f"{fmt_ms(row['p50_ms'])} | "
                    f"{fmt_ms(row['p99_ms'])} | {row['first_call_s']:.2f} s | {row['last_call_s']:.2f} s |")
    text += "\n".join(base) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    chart(report, RESULTS / f"{name}.png")
    print(text)


if __name__ == "__main__":
    main()
