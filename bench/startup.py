"""Start-up cost of shortcut-env against what users would run instead, side by side in one run.

Run through ``bench/run startup`` (which prepares the virtualenv and the builds). For each
endpoint (the canned one in bench/endpoint.py and moto's server), every command fetches the same
guide-shaped secret (bench/secret.json):

  shortcut-env (plain and static builds) ... -- true
  python legacy bootstrap (boto3, bench/legacy_bootstrap.py) ... true
  curl --aws-sigv4 (one signed GetSecretValue, no SDK: the floor)
  aws secretsmanager get-secret-value (the AWS CLI from PyPI)

Over HTTPS (bench/tls_proxy.py: a loopback TLS proxy in front of the same endpoint, with a
private CA), every client trusts the same set, the system bundle plus that CA: shortcut-env is
given ``SSL_CERT_FILE=`` the CA (which adds to the system store), curl ``--cacert`` the bundle
with the CA appended, boto3 and the AWS CLI ``AWS_CA_BUNDLE=`` that bundle.

Wall time and user+sys CPU come from hyperfine, run in rounds whose command order rotates so
that slow drifts of the machine hit every command alike; peak RSS from /usr/bin/time, with the
commands interleaved; instructions from one start under callgrind (the endpoint runs in its own
process and is not counted). Results go to bench/results/startup.{md,json,png}.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
SECRET_NAME = "short-cut/prod/app"
REGION = "us-east-1"


def start_server(argv: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    return proc, port


def seed_moto(port: int, secret: str) -> None:
    import boto3

    client = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_secret(Name=SECRET_NAME, SecretString=secret)


def base_env(url: str, work: Path, tls: Path | None = None) -> dict[str, str]:
    """A cleared environment: only what the commands need, the same for all of them."""
    env = {
        "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "APP_ENV": "production",
        "SECRET_NAME": SECRET_NAME,
        "SHORTCUT_ENV_CREDENTIALS_DIR": str(work / "creds"),
    }
    if tls:
        env["SSL_CERT_FILE"] = str(tls / "ca.pem")
    return env


def commands(args: argparse.Namespace, url: str, tls: Path | None) -> list[tuple[str, list[str]]]:
    """The commands, for `url`; over HTTPS (`tls` holds the proxy's CA files) with one trust."""
    python = sys.executable
    # boto3 and the AWS CLI read AWS_CA_BUNDLE (it replaces their CA set: the bundle holds the
    # system's CAs plus the private one); /usr/bin/env sets it for them alone.
    py_trust = ["env", f"AWS_CA_BUNDLE={tls / 'bundle.pem'}"] if tls else []
    curl_trust = ["--cacert", str(tls / "bundle.pem")] if tls else []
    cmds = [("shortcut-env", [str(args.plain), "--", "true"])]
    if args.static:
        cmds.append(("shortcut-env (static, musl)", [str(args.static), "--", "true"]))
    cmds += [
        ("python bootstrap (boto3)", [*py_trust, python, str(BENCH / "legacy_bootstrap.py"), "true"]),
        (
            "curl --aws-sigv4 (floor)",
            [
                "curl", "-sS", "--fail-with-body", "-o", "/dev/null", *curl_trust,
                "--aws-sigv4", f"aws:amz:{REGION}:secretsmanager",
                "--user", "testing:testing",
                "-H", "X-Amz-Target: secretsmanager.GetSecretValue",
                "-H", "Content-Type: application/x-amz-json-1.1",
                "--data", json.dumps({"SecretId": SECRET_NAME}),
                f"{url}/",
            ],
        ),
        (
            "aws secretsmanager get-secret-value",
            [
                *py_trust, str(Path(python).parent / "aws"), "secretsmanager", "get-secret-value",
                "--secret-id", SECRET_NAME, "--endpoint-url", url,
                "--output", "json",
            ],
        ),
    ]
    return cmds


def check(name: str, argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{name} failed ({done.returncode}): {done.stderr.strip()}")


def hyperfine(cmds, env, runs: int, rounds: int, work: Path) -> dict[str, dict]:
    """Rounds of hyperfine, the command order rotated each round; per-run times are pooled."""
    pooled: dict[str, dict] = {name: {"times": [], "user": [], "system": []} for name, _ in cmds}
    for r in range(rounds):
        order = cmds[r % len(cmds):] + cmds[: r % len(cmds)]
        out = work / f"hyperfine-{r}.json"
        argv = ["hyperfine", "-N", "--style", "none", "--warmup", "3", "--runs", str(runs),
                "--export-json", str(out)]
        for name, cmd in order:
            argv += ["-n", name, shlex.join(cmd)]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        for result in json.loads(out.read_text())["results"]:
            entry = pooled[result["command"]]
            entry["times"] += result["times"]
            # hyperfine reports user/system as means over the round's runs.
            entry["user"] += [result["user"]] * len(result["times"])
            entry["system"] += [result["system"]] * len(result["times"])
    return pooled


def peak_rss(cmds, env, runs: int) -> dict[str, list[int]]:
    """Max RSS in KiB from /usr/bin/time, commands interleaved run by run."""
    rss: dict[str, list[int]] = {name: [] for name, _ in cmds}
    for _ in range(runs):
        for name, cmd in cmds:
            done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
            rss[name].append(int(done.stderr.strip().splitlines()[-1]))
    return rss


def callgrind(cmds, env, work: Path) -> dict[str, int]:
    """Instructions (Ir) of one start of each command, the endpoint not included.

    Callgrind writes its counts when the process exits, and a successful exec replaces it
    before that; so the commands that exec are given a command that does not exist
    (/nonexistent/true): everything up to the exec attempt is counted, plus an error exit
    (for Python, a short traceback), which is small next to the totals.
    """
    counts = {}
    for i, (name, cmd) in enumerate(cmds):
        out = work / f"callgrind-{i}.out"
        if cmd[-1] == "true":
            cmd = [*cmd[:-1], "/nonexistent/true"]
        # `env VAR=VALUE… COMMAND` (the Python clients' CA bundle over HTTPS): the variables go
        # into the environment, so that callgrind counts the command and not env(1).
        run_env = dict(env)
        if cmd[0] == "env":
            cmd = cmd[1:]
            while cmd and "=" in cmd[0]:
                key, value = cmd.pop(0).split("=", 1)
                run_env[key] = value
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=no",
                        f"--callgrind-out-file={out}", *cmd], env=run_env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                counts[name] = int(line.split()[1])
                break
    return counts


def ldd_size(exe: str) -> int:
    total = os.path.getsize(exe)
    done = subprocess.run(["ldd", exe], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        parts = line.split("=>")
        path = (parts[1] if len(parts) > 1 else parts[0]).split("(")[0].strip()
        if path.startswith("/") and os.path.exists(path):
            total += os.path.getsize(os.path.realpath(path))
    return total


def packages_size(names: list[str]) -> int:
    """Installed size of Python distributions (their files as recorded by pip)."""
    from importlib import metadata

    total = 0
    for name in names:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            p = Path(dist.locate_file(f))
            if p.is_file():
                total += p.stat().st_size
    return total


def sizes(args: argparse.Namespace) -> dict[str, tuple[int, str]]:
    py = os.path.realpath(sys.executable)
    sdk = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"]
    cli = sdk[1:] + ["awscli", "docutils", "colorama", "rsa", "pyasn1", "PyYAML"]
    out = {"shortcut-env": (os.path.getsize(args.plain), "the binary (glibc, dynamic)")}
    if args.static:
        out["shortcut-env (static, musl)"] = (os.path.getsize(args.static), "the binary, nothing else")
    out["python bootstrap (boto3)"] = (ldd_size(py) + packages_size(sdk),
                                       "python3 + libs + boto3/botocore (stdlib not counted)")
    curl = shutil.which("curl") or "curl"
    out["curl --aws-sigv4 (floor)"] = (ldd_size(curl), "curl + its shared libraries")
    out["aws secretsmanager get-secret-value"] = (ldd_size(py) + packages_size(cli),
                                                  "python3 + libs + awscli/botocore (stdlib not counted)")
    return out


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{model}, {os.cpu_count()} CPUs, {mem:.0f} GiB, Linux {platform.release()}"


def summarize(pooled, rss, instr, size) -> dict[str, dict]:
    rows = {}
    for name, data in pooled.items():
        rows[name] = {
            "median_ms": statistics.median(data["times"]) * 1000,
            "p10_ms": statistics.quantiles(data["times"], n=10)[0] * 1000,
            "p90_ms": statistics.quantiles(data["times"], n=10)[-1] * 1000,
            "cpu_ms": (statistics.fmean(data["user"]) + statistics.fmean(data["system"])) * 1000,
            "user_ms": statistics.fmean(data["user"]) * 1000,
            "sys_ms": statistics.fmean(data["system"]) * 1000,
            "runs": len(data["times"]),
            "rss_kib": statistics.median(rss[name]),
            "instructions": instr.get(name),
            "size_bytes": size[name][0],
            "size_note": size[name][1],
        }
    return rows


def ratios(rows: dict[str, dict]) -> dict[str, float]:
    out = {}
    curl = rows["curl --aws-sigv4 (floor)"]["median_ms"]
    py = rows["python bootstrap (boto3)"]["median_ms"]
    for name in ("shortcut-env", "shortcut-env (static, musl)"):
        if name in rows:
            out[f"{name} / curl"] = rows[name]["median_ms"] / curl
            out[f"python / {name}"] = py / rows[name]["median_ms"]
            out[f"{name} CPU / curl CPU"] = rows[name]["cpu_ms"] / rows["curl --aws-sigv4 (floor)"]["cpu_ms"]
            out[f"python CPU / {name} CPU"] = rows["python bootstrap (boto3)"]["cpu_ms"] / rows[name]["cpu_ms"]
    return out


def markdown(report: dict) -> str:
    lines = [
        f"Measured {report['date']} on {report['machine']}; hyperfine {report['hyperfine']}, "
        f"{report['rounds']} rounds × {report['runs']} runs per command (order rotated each round), "
        f"peak RSS over {report['rss_runs']} interleaved runs, instructions from one start under callgrind; "
        f"1-minute load average {report['load_before']:.1f} before, {report['load_after']:.1f} after.",
        "",
    ]
    for endpoint, data in report["endpoints"].items():
        lines += [f"**Endpoint: {endpoint}** ({data['about']})", "",
                  "| command | median wall | p10–p90 | user+sys CPU | peak RSS | instructions | size on disk |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, r in data["rows"].items():
            instr = f"{r['instructions'] / 1e6:,.1f} M" if r["instructions"] else "—"
            lines.append(
                f"| {name} | {r['median_ms']:.1f} ms | {r['p10_ms']:.1f}–{r['p90_ms']:.1f} ms | "
                f"{r['cpu_ms']:.1f} ms | {r['rss_kib'] / 1024:.1f} MiB | {instr} | "
                f"{r['size_bytes'] / 1024 / 1024:.1f} MiB |")
        lines += ["", "Ratios of median wall time: " + ", ".join(
            f"{k} = {v:.2f}×" for k, v in data["ratios"].items()), ""]
    lines += ["Sizes: " + "; ".join(f"{k}: {v[1]}" for k, v in report["size_notes"].items()) + ".", ""]
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    endpoints = list(report["endpoints"])
    names = list(report["endpoints"][endpoints[0]]["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.6 * len(names) + 1.8))
    for ax, metric, label in ((axes[0], "median_ms", "median wall time (ms, log scale)"),
                              (axes[1], "cpu_ms", "user+sys CPU (ms, log scale)")):
        height = 0.8 / len(endpoints)
        for i, ep in enumerate(endpoints):
            rows = report["endpoints"][ep]["rows"]
            ys = [j + i * height for j in range(len(names))]
            vals = [rows[n][metric] for n in names]
            bars = ax.barh(ys, vals, height=height, label=ep)
            ax.bar_label(bars, labels=[f"{v:.1f}" for v in vals], fontsize=7, padding=2)
        ax.set_yticks([j + height * (len(endpoints) - 1) / 2 for j in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(right=ax.get_xlim()[1] * 2)
        ax.set_xlabel(label)
    axes[1].set_yticklabels([])
    axes[1].legend(loc="center right", fontsize=8)
    fig.suptitle(f"Start-up cost: fetch short-cut/prod/app on loopback ({report['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plain", type=Path)
    parser.add_argument("--static", type=Path)
    parser.add_argument("--runs", type=int, default=20, help="runs per command per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rss-runs", type=int, default=10)
    parser.add_argument("--no-moto", action="store_true", help="only the canned endpoint")
    parser.add_argument("--no-https", action="store_true", help="plain HTTP endpoints only")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the table and chart from results/startup.json")
    args = parser.parse_args()
    if args.replot:
        report = json.loads((RESULTS / "startup.json").read_text())
        (RESULTS / "startup.md").write_text(markdown(report))
        chart(report, RESULTS / "startup.png")
        return

    secret = (BENCH / "secret.json").read_text()
    RESULTS.mkdir(exist_ok=True)
    servers = []
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "hyperfine": subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.split()[-1],
        "runs": args.runs, "rounds": args.rounds, "rss_runs": args.rss_runs,
        "endpoints": {},
        "load_before": os.getloadavg()[0],
    }
    certs = Path(tempfile.mkdtemp(prefix="shortcut-env-bench-tls-"))
    try:
        canned, canned_port = start_server([sys.executable, str(BENCH / "endpoint.py")])
        servers.append(canned)
        plain = [("canned", canned_port, "bench/endpoint.py: asyncio, a fixed answer, no throttling")]
        if not args.no_moto:
            moto, moto_port = start_server([sys.executable, str(ROOT / "tests/support/moto_server.py")])
            servers.append(moto)
            seed_moto(moto_port, secret)
            plain.append(("moto", moto_port, "moto's Secrets Manager server, as in the tests"))
        # (label, url, about, directory of the TLS proxy's CA files or None)
        endpoints = [(label, f"http://127.0.0.1:{port}", about, None) for label, port, about in plain]
        if not args.no_https:
            for label, port, about in plain:
                sub = certs / label
                sub.mkdir()
                proxy, proxy_port = start_server([sys.executable, str(BENCH / "tls_proxy.py"),
                                                  "--upstream", str(port), "--dir", str(sub)])
                servers.append(proxy)
                endpoints.append((f"{label} over HTTPS", f"https://127.0.0.1:{proxy_port}",
                                  f"{about}, behind bench/tls_proxy.py (TLS 1.3, RSA 2048 "
                                  "certificate from a private CA; system bundle + CA trusted)", sub))
        size = sizes(args)
        report["size_notes"] = size
        for label, url, about, tls in endpoints:
            with tempfile.TemporaryDirectory(prefix="shortcut-env-bench-") as tmp:
                work = Path(tmp)
                for sub in ("home", "tmp", "creds"):
                    (work / sub).mkdir(mode=0o700)
                env = base_env(url, work, tls)
                cmds = commands(args, url, tls)
                for name, cmd in cmds:
                    check(name, cmd, env)
                print(f"[{label}] hyperfine: {args.rounds} rounds × {args.runs} runs", file=sys.stderr)
                pooled = hyperfine(cmds, env, args.runs, args.rounds, work)
                print(f"[{label}] peak RSS", file=sys.stderr)
                rss = peak_rss(cmds, env, args.rss_runs)
                instr = {}
                if not args.no_callgrind:
                    print(f"[{label}] callgrind", file=sys.stderr)
                    instr = callgrind(cmds, env, work)
                rows = summarize(pooled, rss, instr, size)
                report["endpoints"][label] = {"about": about, "rows": rows, "ratios": ratios(rows)}
    finally:
        for proc in servers:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
        shutil.rmtree(certs, ignore_errors=True)
    report["load_after"] = os.getloadavg()[0]
    (RESULTS / "startup.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "startup.md").write_text(markdown(report))
    chart(report, RESULTS / "startup.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
