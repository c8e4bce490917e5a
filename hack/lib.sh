# Shared helpers of the hack/ scripts (sourced, never run).
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0${*:+ $*})"
}

# The Python to use for ocipy, the same one in hack/setup and hack/test:
# $PYTHON if set, else the repo's .venv (which hack/setup creates only when the
# system python is "externally managed", e.g. Debian's /usr/bin/python3 under
# sudo), else python3 on PATH. Prints the real interpreter path (a pyenv shim
# resolved to the binary behind it).
ocipy_python() {
    local py
    if [ -n "${PYTHON:-}" ]; then
        py="$PYTHON"
    elif [ -x "$REPO_ROOT/.venv/bin/python" ]; then
        py="$REPO_ROOT/.venv/bin/python"
    else
        py="$(command -v python3)" || die "python3 not found (install python3 >= 3.11 or set PYTHON)"
    fi
    "$py" -c 'import sys; assert sys.version_info >= (3, 11), sys.version; print(sys.executable)' \
        || die "$py: Python >= 3.11 is required"
}

# Succeeds if a mount point is at or below directory $1 (in our mount namespace).
has_mount_under() {
    local dir
    dir="$(realpath -m -- "$1")"
    # field 5 of mountinfo is the mount point, with spaces etc. as octal escapes
    awk -v d="$dir" '{ mp = $5; gsub(/\\040/, " ", mp)
                      if (mp == d || index(mp, d "/") == 1) { found = 1; exit } }
                    END { exit !found }' /proc/self/mountinfo
}

# rm -rf for our own scratch trees, refusing when anything is mounted inside.
safe_rm_tree() {
    local dir="$1"
    [ -e "$dir" ] || [ -L "$dir" ] || return 0
    if has_mount_under "$dir"; then
        note "NOT removing $dir: something is mounted in it:"
        awk -v d="$(realpath -m -- "$dir")" 'index($5, d) == 1 { print "  " $5 }' /proc/self/mountinfo >&2
        return 1
    fi
    rm -rf --one-file-system -- "$dir"
}
