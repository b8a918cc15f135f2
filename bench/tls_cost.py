"""Where a start's CPU goes over HTTPS: CPU per start and instructions, per trust configuration.

    python3 bench/tls_cost.py --binary NAME=PATH [--binary NAME=PATH ...] [--runs N]

For each binary (e.g. the build before and after a change) and each configuration below, it
runs starts against moto, interleaved run by run, and reports the median user+sys CPU of a
start (from the kernel's rusage of each child: no shell, no hyperfine in between) and the
instructions of one start under callgrind with the inclusive share of the parts
of a start named in PARTS (the binary must keep its symbols: `cargo build --profile profiling`).
curl (OpenSSL) is measured alongside with the same trust. Results go to
bench/results/tls-cost.{json,md}.

Configurations (all trust the system bundle plus the TLS proxy's private CA, except `http`):
  http            plain HTTP to moto: the floor without TLS
  https           SSL_CERT_FILE= the CA (it adds to the system store)
  https, store named again   also AWS_CA_BUNDLE= the system bundle and SSL_CERT_DIR=/etc/ssl/certs
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import startup  # noqa: E402

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# Parts of a start, by the symbols callgrind reports (inclusive instructions; LTO inlines much,
# so these are the outermost functions that survive in the profiling build).
PARTS = {
    "CPU-jitter entropy (aws-lc DRBG seed)": r"jent_entropy_collector_alloc|jent_read_entropy",
    "our trust store: PEM decode + anchor parse (tls::Collector::add_pem, every file read)":
        r"shortcut_env::(sources::)?tls::Collector::add_pem",
    "our trust store: SSL_CERT_DIR's listing (tls::Collector::list_dir)":
        r"shortcut_env::sources::tls::Collector::list_dir",
    "our trust store: SSL_CERT_DIR's files, read eagerly (tls::Collector::add_dir, incl. add_pem)":
        r"shortcut_env::(sources::)?tls::Collector::add_dir",
    "our client: rustls config + hyper client (https::client)":
        r"shortcut_env::sources::https::client",
    "SDK connector build (its PEM decode + anchor parse)":
        r"aws_smithy_http_client::client::ConnectorBuilder<.*TlsProviderSelected>::build",
    "of which the SDK's PEM decode (rustls_pki_types::pem)": r"rustls_pki_types::pem::read",
    "TLS handshake (rustls ClientConnection processing)":
        r"rustls::conn::ConnectionCore<.*>::process_new_packets",
}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """user+sys CPU (ms) of one run, from wait4's rusage, and its max RSS (KiB), which is not
    reported: after fork it still holds the Python parent's (use /usr/bin/time for RSS)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: exit {os.waitstatus_to_exitcode(status)}")
    return (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss


def inclusive(out: Path) -> tuple[int, dict[str, int]]:
    """Total instructions and the inclusive count of each part of PARTS."""
    total, parts = 0, {}
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
    done = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
                          capture_output=True, text=True)
    for line in done.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        count, symbol = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in symbol:
            continue
        for part, pattern in PARTS.items():
            # The first (largest) match of each part: callgrind_annotate sorts by inclusive cost.
            if part not in parts and re.search(pattern, symbol):
                parts[part] = count
    return total, parts


def callgrind(argv: list[str], env: dict[str, str], work: Path, tag: str) -> tuple[int, dict[str, int]]:
    out = work / f"callgrind-{tag}.out"
    argv = [*argv[:-1], "/nonexistent/true"] if argv[-1] == "true" else argv
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return inclusive(out)


def syscalls(argv: list[str], env: dict[str, str], work: Path, tag: str) -> int | None:
    """System calls of one start (strace -c, threads included): on a VM each costs microseconds
    of kernel CPU that callgrind does not see. None without strace."""
    if not shutil.which("strace"):
        return None
    out = work / f"strace-{tag}.txt"
    subprocess.run(["strace", "-f", "-qq", "-c", "-o", str(out), *argv], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for line in out.read_text().splitlines():
        fields = line.split()
        if fields and fields[-1] == "total":
            return int(fields[3])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    binaries = [tuple(b.split("=", 1)) for b in args.binary]
    secret = (BENCH / "secret.json").read_text()
    servers = []
    report = {"machine": startup.machine(), "runs": args.runs, "load_before": os.getloadavg()[0],
              "rows": []}
    with tempfile.TemporaryDirectory(prefix="shortcut-env-tls-cost-") as tmp:
        work = Path(tmp)
        for sub in ("home", "tmp", "creds", "certs"):
            (work / sub).mkdir(mode=0o700)
        try:
            moto, moto_port = startup.start_server(
                [sys.executable, str(startup.ROOT / "tests/support/moto_server.py")])
            servers.append(moto)
            startup.seed_moto(moto_port, secret)
            proxy, proxy_port = startup.start_server(
                [sys.executable, str(BENCH / "tls_proxy.py"), "--upstream", str(moto_port),
                 "--dir", str(work / "certs")])
            servers.append(proxy)
            http, https = f"http://127.0.0.1:{moto_port}", f"https://127.0.0.1:{proxy_port}"
            ca, bundle = str(work / "certs/ca.pem"), str(work / "certs/bundle.pem")
            configs = {
                "http": (http, {}),
                "https": (https, {"SSL_CERT_FILE": ca}),
                "https, store named again": (https, {"SSL_CERT_FILE": ca,
                                                     "AWS_CA_BUNDLE": SYSTEM_BUNDLE,
                                                     "SSL_CERT_DIR": "/etc/ssl/certs"}),
            }
            cases = []  # (binary, config, argv, env)
            for name, path in binaries:
                for config, (url, extra) in configs.items():
                    env = {**startup.base_env(url, work), **extra}
                    cases.append((name, config, [path, "--", "true"], env))
            # By name: the list's order is startup.py's (its second command is the boto3 one).
            curl_argv = dict(startup.commands(argparse.Namespace(plain="x", static=None), https,
                                              work / "certs"))["curl --aws-sigv4 (floor)"]
            curl_env = startup.base_env(https, work)
            cases.append(("curl (OpenSSL)", "https", curl_argv, curl_env))
            ca_only = [a if a != bundle else ca for a in curl_argv]
            cases.append(("curl (OpenSSL)", "https, the CA only", ca_only, curl_env))
            cpu = {i: [] for i in range(len(cases))}
            rss = {i: [] for i in range(len(cases))}
            for i, (_, _, argv, env) in enumerate(cases):
                run_once(argv, env)  # warm-up
            for _ in range(args.runs):
                for i, (_, _, argv, env) in enumerate(cases):
                    c, r = run_once(argv, env)
                    cpu[i].append(c)
                    rss[i].append(r)
            for i, (name, config, argv, env) in enumerate(cases):
                total, parts = callgrind(argv, env, work, str(i)) if not name.startswith("curl") \
                    else (callgrind(argv, env, work, str(i))[0], {})
                report["rows"].append({
                    "binary": name, "config": config,
                    "cpu_ms_median": statistics.median(cpu[i]),
                    "cpu_ms_p10": statistics.quantiles(cpu[i], n=10)[0],
                    "cpu_ms_p90": statistics.quantiles(cpu[i], n=10)[-1],
                    "instructions": total, "parts": parts,
                    "syscalls": syscalls(argv, env, work, str(i)),
                })
        finally:
            for proc in servers:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=10)
    report["load_after"] = os.getloadavg()[0]
    startup.RESULTS.mkdir(exist_ok=True)
    (startup.RESULTS / "tls-cost.json").write_text(json.dumps(report, indent=2) + "\n")
    (startup.RESULTS / "tls-cost.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = [f"{report['machine']}; {report['runs']} interleaved runs per row (CPU = user+sys from "
             f"rusage, median, p10–p90), instructions from one start under callgrind; 1-minute "
             f"load {report['load_before']:.1f} before, {report['load_after']:.1f} after.", "",
             "| binary | configuration | CPU per start | p10–p90 | instructions | system calls |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in report["rows"]:
        calls = r.get("syscalls")
        lines.append(f"| {r['binary']} | {r['config']} | {r['cpu_ms_median']:.1f} ms | "
                     f"{r['cpu_ms_p10']:.1f}–{r['cpu_ms_p90']:.1f} ms | "
                     f"{r['instructions'] / 1e6:,.1f} M | {calls if calls is not None else '—'} |")
    lines += ["", "Inclusive instructions of the parts of a start (callgrind):", "",
              "| binary | configuration | part | instructions | share |", "| --- | --- | --- | ---: | ---: |"]
    for r in report["rows"]:
        for part, count in r["parts"].items():
            lines.append(f"| {r['binary']} | {r['config']} | {part} | {count / 1e6:,.1f} M | "
                         f"{100 * count / r['instructions']:.0f} % |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
