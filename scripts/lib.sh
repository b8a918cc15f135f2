# shellcheck shell=bash
# Helpers shared by the scripts in scripts/; each sources this after `cd`-ing to the repository
# root. A script may define its own `die` afterwards (to print its closing count line).

say() { printf '==> %s\n' "$*" >&2; }

die() {
    printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
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
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get could not install ${missing[*]}"
}
