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
