# shellcheck shell=bash
# Helpers shared by the scripts in scripts/; each sources this after `cd`-ing to the repository
# root.

say() { printf '==> %s\n' "$*" >&2; }

# In a counting script (below) the failure is counted and the closing line printed.
die() {
    printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
    if [ -n "${suite:-}" ]; then echo "$suite: $passed passed, $((failed + 1)) failed"; fi
    exit 1
}

# need_apt PACKAGE...: installs the Debian packages that are missing, running `apt-get update`
# first, only when something is missing (idempotent, and quiet when there is nothing to do).
need_apt() {
    local missing=() pkg sudo=""
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "install ${missing[*]} (no apt-get here)"
    say "installing ${missing[*]}"
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq -o DPkg::Lock::Timeout=300 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null \
        || die "apt-get could not install ${missing[*]}"
}

# For the check-* scripts, which end with `SUITE: N passed, M failed` (a line CI reads):
# `counting SUITE` starts the count, `pass`/`fail` count one result each, `die` (a missing tool)
# then counts as one more failure and stops, and `finish` prints the line and sets the status.
counting() {
    suite=$1
    passed=0
    failed=0
}
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
finish() {
    echo "$suite: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# check DESCRIPTION COMMAND...: runs the command, passes or fails with its output (indented).
check() {
    local description=$1 out; shift
    if out=$("$@" 2>&1); then
        pass "$description"
    else
        fail "$description"
        printf '%s\n' "$out" | sed 's/^/      /'
    fi
}

# The project's Python: the virtualenv scripts/bootstrap makes.
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# pinned_present FILE...: every `name==version` of the requirement files is installed in .venv.
pinned_present() {
    [ -x "$PY" ] || return 1
    "$PY" - "$@" <<'PYEOF'
import sys
from importlib import metadata
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        name = name.split("[", 1)[0].strip()
        try:
            if metadata.version(name) != version.strip():
                sys.exit(1)
        except metadata.PackageNotFoundError:
            sys.exit(1)
PYEOF
}

# need_venv FILE...: the check scripts install nothing; a missing or outdated requirement is a
# failure that says how to get it.
need_venv() {
    pinned_present "$@" || die "$* not installed in .venv: run ./scripts/bootstrap (or $PY -m pip install -r ${*// / -r })"
}

# need_tools TOOL...: each is on PATH, else a failure naming scripts/bootstrap.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found: run ./scripts/bootstrap (Debian/Ubuntu packages)"
    done
}

# unittest LABEL DIR [VAR=VALUE...]: runs `python -m unittest discover` in DIR (with the
# variables), counting each test as passed or failed; a skipped test counts as failed (a check
# that cannot run fails), and so does a runner that did not finish or ran nothing.
unittest() {
    local label=$1 dir=$2 out status ran summary failures errors skipped unexpected bad
    shift 2
    say "python -m unittest discover -s $dir"
    set +e
    out=$(env "$@" "$PY" -m unittest discover -s "$dir" -t "$dir" -v 2>&1)
    status=$?
    set -e
    ran=$(printf '%s\n' "$out" | sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' | tail -n 1)
    summary=$(printf '%s\n' "$out" | grep -E '^(OK|FAILED)( \(.*\))?$' | tail -n 1 || true)
    count_of() { printf '%s\n' "$summary" | sed -n "s/.*[(, ]$1=\([0-9][0-9]*\).*/\1/p"; }
    if [ -z "$ran" ] || [ -z "$summary" ] || [ "$ran" -eq 0 ]; then
        fail "$label: did not run to completion or ran no test (exit $status)"
        printf '%s\n' "$out" | sed 's/^/      /'
        return 0
    fi
    failures=$(count_of failures); errors=$(count_of errors); skipped=$(count_of skipped)
    unexpected=$(count_of 'unexpected successes')
    bad=$(( ${failures:-0} + ${errors:-0} + ${skipped:-0} + ${unexpected:-0} ))
    passed=$((passed + ran - bad)); failed=$((failed + bad))
    if [ "$bad" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$bad" -gt 0 ] || failed=$((failed + 1))
        printf 'FAIL  %s: %s of %s tests failed, errored or skipped (exit %s)\n' "$label" "$bad" "$ran" "$status"
        printf '%s\n' "$out" | sed 's/^/      /'
    else
        printf 'ok    %s: %s tests\n' "$label" "$ran"
    fi
}
