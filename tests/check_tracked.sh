#!/bin/bash
# check_tracked.sh [--selftest]: nothing built is tracked. Fails if a file
# in `git ls-files` is an ELF (an executable, an object, a shared library),
# an ar archive, or named like an object, or if a file outside tests/fuzz/
# is named like a libFuzzer corpus entry (40 hex digits, its SHA-1: a fuzz
# run that wrote into a seed directory, as one did into specs/). Outside a git checkout it says so
# and passes, since there is no index to check. --selftest first checks
# that a planted tracked ELF is caught.
set -u

check() # DIR: 0 when nothing built is tracked in the git checkout DIR
{
    local bad=0 n=0 f magic
    while IFS= read -r -d '' f; do
        n=$((n + 1))
        [ -f "$1/$f" ] || continue
        case $f in
            *.o | *.a | *.so | *.so.* | *.obj | *.wasm)
                echo "check_tracked: $f is tracked, but built files never are"; bad=1; continue ;;
        esac
        if [[ $f != tests/fuzz/* && ${f##*/} =~ ^[0-9a-f]{40}$ ]]; then
            echo "check_tracked: $f is tracked, but it is a fuzzer's corpus entry"; bad=1; continue
        fi
        magic=$(head -c 7 -- "$1/$f" | od -An -c | tr -d ' \n')
        case $magic in
            177ELF* | '!<arch>'*)
                echo "check_tracked: $f is tracked, but it is a binary"; bad=1 ;;
        esac
    done < <(git -C "$1" ls-files -z)
    # make NAME writes ./NAME and ./NAME.c for every specs/NAME.gm: .gitignore must name both
    for f in "$1"/specs/*.gm; do
        [ -e "$f" ] || continue
        f=${f##*/}
        { git -C "$1" check-ignore -q "${f%.gm}" && git -C "$1" check-ignore -q "${f%.gm}.c"; } ||
            { echo "check_tracked: .gitignore lacks /${f%.gm} or /${f%.gm}.c, which make ${f%.gm} writes"; bad=1; }
    done
    [ $bad = 0 ] && echo "check_tracked: ok: none of the $n tracked files is built; .gitignore names every trainer"
    return $bad
}

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
if [ "${1:-}" = --selftest ]; then
    d=$(mktemp -d) || exit 1
    trap 'rm -rf "$d"' EXIT
    git init -q "$d" && cp /bin/true "$d/zoo" && echo x >"$d/a.c" && git -C "$d" add zoo a.c
    if check "$d" >/dev/null; then
        echo "check_tracked: selftest: a tracked ELF went unnoticed"; exit 1
    fi
    git -C "$d" rm -q --cached zoo && mkdir "$d/specs" && echo x >"$d/specs/00d6b5c3fc98982957cff803a016df37ed396c3e" &&
        git -C "$d" add specs
    if check "$d" >/dev/null; then
        echo "check_tracked: selftest: a tracked corpus entry went unnoticed"; exit 1
    fi
    echo "check_tracked: selftest: a planted tracked ELF and corpus entry are caught"
fi
if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "check_tracked: not a git checkout; nothing to check"
    exit 0
fi
check "$root"
