#!/usr/bin/env bash
# install_check.sh: what a user of genc as a command-line tool relies on,
# checked the way they would meet it.  From a copy of the tree (so runs/,
# demo.png and the tree's own files are never touched):
#   - genc --version names the runtime ABI;
#   - make install into a DESTDIR writes exactly the expected files, and
#     make uninstall removes exactly those;
#   - the man pages render without warnings and document every flag and
#     command of genc --help and of the trainers' --help;
#   - the bash completion sources cleanly and completes flags and specs;
#   - trainers built from the staged tree, by hand with pkg-config and with
#     genc-build, gradcheck in double;
#   - make NAME for specs and C outside specs/, make NAME SPEC=...;
#   - make demo THREADS=1;
#   - the README's flag list is genc --help's.
# Run from the top of the tree after make all gan_ring vae cyclegan dcgan
# (make test and make install-check do that).
set -euo pipefail

n_ok=0

fail() {
    echo "install_check: FAIL: $*" >&2
    exit 1
}
ok() {
    n_ok=$((n_ok + 1))
    echo "  ok: $*"
}
# expect_same WHAT EXPECTED ACTUAL: two newline-separated lists are equal.
expect_same() {
    if [ "$2" != "$3" ]; then
        echo "install_check: FAIL: $1 differ (< expected, > actual):" >&2
        diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") >&2 || true
        exit 1
    fi
}

for f in build/genc build/libgenrt.a gan_ring vae cyclegan; do
    [ -e "$f" ] || fail "$f is missing: run make all gan_ring vae cyclegan dcgan first"
done
command -v man >/dev/null || fail "man is missing (Debian man-db; make deps installs it)"

# Nested makes run on their own, whatever make started this script.
unset MAKEFLAGS MFLAGS MAKELEVEL SPEC THREADS DEMO_STEPS DESTDIR PREFIX
MAKE="make -j2 --no-print-directory"

T=$(mktemp -d "${TMPDIR:-/tmp}/install_check.XXXXXX")
trap 'rm -rf "$T"' EXIT

VERSION=$(sed -n 's/.*define GENC_VERSION "\(.*\)"/\1/p' compiler/genc.h)
ABI=$(sed -n 's/^#define GENRT_ABI \([0-9]*\).*/\1/p' runtime/genrt_model.h)
[ -n "$VERSION" ] && [ -n "$ABI" ] || fail "cannot read GENC_VERSION or GENRT_ABI"

# The flags genc --help documents: the synopsis lines and the option list.
genc_help=$(build/genc --help)
GENC_FLAGS=$( { printf '%s\n' "$genc_help" | sed -n '/^usage:/,/^$/p' | grep -oE -- '(^|[][ |])--?[a-z][a-z-]*' |
                  sed 's/^[][ |]//'
              printf '%s\n' "$genc_help" | sed -n 's/^  \(--*[a-z][a-z-]*\).*/\1/p'; } | sort -u)
[ "$(printf '%s\n' "$GENC_FLAGS" | wc -l)" -ge 10 ] || fail "found only these flags in genc --help: $GENC_FLAGS"

# ---- genc --version ------------------------------------------------------
v=$(build/genc --version)
[ "$v" = "genc $VERSION (runtime ABI $ABI)" ] || fail "genc --version printed '$v'"
ok "genc --version: $v"

# ---- a copy of the tree ----------------------------------------------------
TREE=$T/tree
mkdir -p "$TREE/build"
if git rev-parse --show-toplevel >/dev/null 2>&1; then
    tops=$(git ls-files -co --exclude-standard | cut -d/ -f1 | sort -u | grep -vx generated)
else
    tops="Makefile README.md .ci bench compiler completion docs examples man runtime specs tests tools"
fi
for t in $tops; do
    [ -e "$t" ] && cp -a "$t" "$TREE/"
done
# the built compiler, runtime and demo trainer, with their times, so the copy is current
find build -maxdepth 1 -type f -exec cp -p {} "$TREE/build/" \;
for f in dcgan dcgan.c; do [ -e "$f" ] && cp -p "$f" "$TREE/"; done

# ---- make install ----------------------------------------------------------
D=$T/stage
P=/usr/local
$MAKE -C "$TREE" install DESTDIR="$D" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
expected=$( {
    printf '%s\n' bin/genc bin/genc-build lib/libgenrt.a lib/pkgconfig/genrt.pc \
        share/man/man1/genc.1 share/man/man1/genc-trainer.1 share/man/man1/genc-build.1 \
        share/bash-completion/completions/genc share/doc/genc/dsl.md
    for h in runtime/*.h; do echo "include/genrt/${h#runtime/}"; done; } | sed "s|^|.$P/|" | sort)
actual=$(cd "$D" && find . ! -type d | sort)
expect_same "installed files" "$expected" "$actual"
for f in bin/genc bin/genc-build; do
    [ "$(stat -c %a "$D$P/$f")" = 755 ] || fail "$f is not mode 755"
done
for f in $(cd "$D$P" && find lib include share -type f); do
    [ "$(stat -c %a "$D$P/$f")" = 644 ] || fail "$f is not mode 644"
done
cmp -s build/genc "$D$P/bin/genc" || fail "the installed genc is not build/genc"
cmp -s completion/genc.bash "$D$P/share/bash-completion/completions/genc" || fail "completion differs"
for p in genc genc-trainer genc-build; do
    cmp -s "man/$p.1" "$D$P/share/man/man1/$p.1" || fail "man page $p.1 differs"
done
pc=$D$P/lib/pkgconfig/genrt.pc
grep -qx "prefix=$P" "$pc" || fail "genrt.pc: no prefix=$P"
grep -qx "Version: $VERSION" "$pc" || fail "genrt.pc: no Version: $VERSION"
! grep -nE '@[A-Z_]+@' "$pc" || fail "genrt.pc: unsubstituted @...@"
ok "make install DESTDIR: $(printf '%s\n' "$actual" | wc -l) files, modes, contents, genrt.pc"

# ---- man pages -------------------------------------------------------------
# render PAGE: the page as man shows it at 80 columns; fails on any warning.
render() {
    MANWIDTH=80 man --warnings -l "$1" >"$T/page.txt" 2>"$T/page.err" || fail "man -l $1 failed"
    [ ! -s "$T/page.err" ] || { cat "$T/page.err" >&2; fail "man --warnings -l $1 warns"; }
    [ -s "$T/page.txt" ] || fail "man -l $1 rendered nothing"
}
# entry WORD: WORD heads a tagged paragraph of the rendered page.
entry() {
    grep -qE -- "^ {7}$1( |,|$)" "$T/page.txt"
}
for p in genc genc-trainer genc-build; do
    render "$D$P/share/man/man1/$p.1"
    th=$(grep -m1 '^\.TH' "man/$p.1")
    [[ $th == *"\"genc $VERSION\""* ]] || fail "man/$p.1: .TH names another version: $th"
done
render "$D$P/share/man/man1/genc.1"
for f in $GENC_FLAGS; do
    entry "$f" || fail "man genc has no entry for $f"
done
grep -q 'docs/dsl.md' "$T/page.txt" || fail "man genc does not point to docs/dsl.md"
ok "man genc: renders without warnings, an entry for each of $(printf '%s ' $GENC_FLAGS)"

# Every command and flag of a GAN's, a VAE's and a CycleGAN's --help, each
# command's flags in its synopsis line.
render "$D$P/share/man/man1/genc-trainer.1"
syn=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' "$T/page.txt" | awk '/^        / { sub(/^ +/, " "); line = line $0; next }
                                                                  { if (line != "") print line; line = $0 }
                                                                  END { print line }')
n_cmd=0
for t in gan_ring vae cyclegan; do
    help=$(./$t --help)
    cmds=$(printf '%s\n' "$help" | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-][a-z-]*\) .*/\1/p')
    flags=$(printf '%s\n' "$help" | sed -n '/^flags:/,/^$/p' | sed -n 's/^  \(--*[a-z][a-z-]*\) .*/\1/p')
    [ -n "$cmds" ] && [ -n "$flags" ] || fail "cannot read the commands and flags of ./$t --help"
    for c in $cmds; do
        entry "$c" || fail "man genc-trainer has no entry for $t's command '$c'"
        n_cmd=$((n_cmd + 1))
        case $c in help | --version) continue ;; esac
        line=$(printf '%s\n' "$syn" | grep -E "^ +TRAINER $c( |$)") || fail "man genc-trainer: no synopsis of '$c'"
        for f in $(printf '%s\n' "$help" | grep -E "^  $c " | grep -oE -- '(^|[[ ])--?[a-z][a-z-]*' | tr -d '[ '); do
            [[ " $line " =~ [[\ ]${f}[]\ ] ]] || fail "man genc-trainer: the synopsis of '$c' lacks $f (./$t --help has it)"
        done
    done
    for f in $flags; do
        entry "$f" || fail "man genc-trainer has no entry for $t's flag $f"
    done
done
grep -q 'docs/dsl.md' "$T/page.txt" || fail "man genc-trainer does not point to docs/dsl.md"
grep -qF 'max(|a|, |n|, floor)' "$T/page.txt" || fail "man genc-trainer lacks gradcheck's relative error"
ok "man genc-trainer: renders without warnings, every command ($n_cmd over 3 trainers), flag and synopsis"
render "$D$P/share/man/man1/genc-build.1"
for f in -o --help --version; do entry "$f" || fail "man genc-build has no entry for $f"; done
ok "man genc-build: renders without warnings"

# ---- bash completion --------------------------------------------------------
comp=$D$P/share/bash-completion/completions/genc
err=$(bash -c 'set -u; source "$1"' _ "$comp" 2>&1) || fail "sourcing the completion failed: $err"
[ -z "$err" ] || fail "sourcing the completion printed: $err"
mkdir -p "$T/cw/sub"
touch "$T/cw/a.gm" "$T/cw/b.txt" "$T/cw/r.ckpt"
# complete WORDS...: what pressing TAB after the last word offers, one a line
complete_words() {
    (cd "$T/cw" && bash -c 'source "$1"; shift
        [ "$(complete -p genc)" = "complete -o filenames -F _genc genc" ] || exit 3
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
        _genc; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$comp" "$@")
}
[ "$(complete_words genc --sa)" = --sampler ] || fail "genc --sa<TAB> gives '$(complete_words genc --sa)'"
expect_same "completed flags ('genc -<TAB>') and genc --help's flags" "$GENC_FLAGS" "$(complete_words genc -)"
expect_same "'genc <TAB>'" "$(printf '%s\n' a.gm sub)" "$(complete_words genc '')"
expect_same "'genc a.gm --weights <TAB>'" "$(printf '%s\n' r.ckpt sub)" "$(complete_words genc a.gm --weights '')"
expect_same "'genc a.gm --target <TAB>'" "$(printf '%s\n' c wasm)" "$(complete_words genc a.gm --target '')"
expect_same "'genc a.gm -o <TAB>'" "$(printf '%s\n' a.gm b.txt r.ckpt sub)" "$(complete_words genc a.gm -o '')"
ok "bash completion: sources cleanly; --sa -> --sampler; flags, specs, checkpoints, targets, files"

# ---- trainers from the staged tree -------------------------------------------
W=$T/work
mkdir -p "$W/spec"
sed 's/^model gan_ring/model ring/' specs/gan_ring.gm >"$W/spec/ring.gm"
PC="env PKG_CONFIG_PATH=$D$P/lib/pkgconfig pkg-config --define-prefix"
pcflags=$($PC --cflags genrt)
pclibs=$($PC --libs genrt)
[[ " $pcflags " == *" -I$D$P/include/genrt "* ]] || fail "pkg-config --cflags genrt: $pcflags"
[[ " $pclibs " == *" -L$D$P/lib "* ]] || fail "pkg-config --libs genrt: $pclibs"
"$D$P/bin/genc" "$W/spec/ring.gm" -o "$W/ring.c" || fail "the installed genc"
# gradcheck_in PRECISION TOL TRAINER: its gradcheck says so, and passes
gradcheck_in() {
    "$3" gradcheck >"$T/gc.txt" 2>&1 || { cat "$T/gc.txt"; fail "$3 gradcheck failed"; }
    head -n1 "$T/gc.txt" | grep -q "^gradcheck: $1 precision, .*tolerance $2\$" ||
        fail "$3 gradcheck: expected $1 precision, tolerance $2; got: $(head -n1 "$T/gc.txt")"
    tail -n1 "$T/gc.txt" | grep -q "(tolerance $2): ok\$" || fail "$3 gradcheck: $(tail -n1 "$T/gc.txt")"
}
# runs NAME TRAINER: --help, and two steps of training into a temp dir
runs() {
    "$2" --help >/dev/null || fail "$2 --help"
    "$2" train --steps 2 --quiet --out "$W/runs/$1" || fail "$2 train --steps 2"
    [ "$(wc -l <"$W/runs/$1/metrics.csv")" = 3 ] || fail "$2: metrics.csv has not 2 steps"
    [ -s "$W/runs/$1/checkpoint.ckpt" ] || fail "$2: no checkpoint"
}
# the build line of the file's own banner, word for word (X is the file's name)
banner=$(sed -n 's|^/\* Build: \(.*\), this file as X\.c; \*/$|\1|p' "$W/ring.c")
[ -n "$banner" ] || fail "ring.c: no 'Build:' line in the banner"
cp "$W/ring.c" "$W/ring_banner.c"
(cd "$W" && pkg-config() { $PC "$@"; } && eval "${banner//X/ring_banner}") || fail "the banner's build line: $banner"
[ -x "$W/ring_banner" ] || fail "the banner's build line made no trainer: $banner"
# the float object alone: the trainer works, gradcheck falls back to float
(cd "$W" && cc -O3 -march=native ring.c $pcflags $pclibs -o ring_float) || fail "cc ring.c \$(pkg-config ...)"
gradcheck_in float 2e-02 "$W/ring_float"
# the documented two steps
(cd "$W" && cc -O3 -march=native -c -DGENC_DOUBLE ring.c -o ring.f64.o $pcflags &&
    cc -O3 -march=native ring.c ring.f64.o $pcflags $pclibs -o ring) || fail "the documented two-step cc build"
gradcheck_in double 1e-06 "$W/ring"
runs ring "$W/ring"
ok "pkg-config from the DESTDIR: the banner's build line and cc by hand build trainers; with the -DGENC_DOUBLE object it gradchecks in double"

GB=$D$P/bin/genc-build
"$GB" --version | grep -qF "genc $VERSION (runtime ABI $ABI)" || fail "genc-build --version: $("$GB" --version)"
"$GB" "$W/spec/ring.gm" -o "$W/ring_gb" >"$T/gb.log" 2>&1 || { cat "$T/gb.log"; fail "genc-build ring.gm"; }
[ "$(ls "$W/spec")" = ring.gm ] || fail "genc-build wrote beside the spec: $(ls "$W/spec")"
gradcheck_in double 1e-06 "$W/ring_gb"
runs ring_gb "$W/ring_gb"
rm "$W/ring"
(cd "$W" && "$GB" ring.c) >"$T/gb.log" 2>&1 || { cat "$T/gb.log"; fail "genc-build ring.c"; }
gradcheck_in double 1e-06 "$W/ring"
before=$(md5sum <"$W/ring")
printf 'int broken(void) { return }\n' >"$W/broken.c"
if "$GB" "$W/broken.c" -o "$W/ring" >"$T/gb.log" 2>&1; then fail "genc-build of a broken C succeeded"; fi
[ "$(md5sum <"$W/ring")" = "$before" ] || fail "a failed genc-build changed the existing trainer"
[ -z "$(find "$W" -maxdepth 1 -name "*.tmp.*")" ] || fail "a failed genc-build left a temporary file"
if "$GB" "$W/nothere.gm" 2>"$T/gb.err"; then fail "genc-build of a missing spec succeeded"; fi
grep -q "^genc-build: error: cannot read" "$T/gb.err" || fail "genc-build, missing spec: $(cat "$T/gb.err")"
ok "genc-build from the DESTDIR: a spec or its C into a trainer that gradchecks in double; failures leave files alone"

# ---- make uninstall ----------------------------------------------------------
touch "$D$P/bin/other-tool" "$D$P/share/man/man1/other.1"
$MAKE -C "$TREE" uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; fail "make uninstall"; }
expect_same "files left by make uninstall" "$(printf '%s\n' ".$P/bin/other-tool" ".$P/share/man/man1/other.1")" \
    "$(cd "$D" && find . ! -type d | sort)"
[ ! -e "$D$P/include/genrt" ] && [ ! -e "$D$P/share/doc/genc" ] || fail "make uninstall left genc's directories"
$MAKE -C "$TREE" uninstall DESTDIR="$D" >/dev/null 2>&1 || fail "a second make uninstall failed"
D2=$T/stage2
$MAKE -C "$TREE" install DESTDIR="$D2" PREFIX=/opt/genc >/dev/null 2>&1 || fail "make install PREFIX=/opt/genc"
grep -qx "prefix=/opt/genc" "$D2/opt/genc/lib/pkgconfig/genrt.pc" || fail "PREFIX=/opt/genc: genrt.pc's prefix"
[ "$(cd "$D2" && find . ! -type d | wc -l)" = "$(printf '%s\n' "$expected" | wc -l)" ] || fail "PREFIX=/opt/genc: file count"
$MAKE -C "$TREE" uninstall DESTDIR="$D2" PREFIX=/opt/genc >/dev/null 2>&1 || fail "make uninstall PREFIX=/opt/genc"
[ -z "$(cd "$D2" && find . ! -type d)" ] || fail "make uninstall PREFIX=/opt/genc left files"
ok "make uninstall: removes exactly what install wrote (other files stay), twice is fine; PREFIX=/opt/genc"

# ---- make NAME from outside specs/ -----------------------------------------
mkdir -p "$W/elsewhere"
sed 's/^model gan_ring/model ic_local/' specs/gan_ring.gm >"$TREE/ic_local.gm"
"$TREE/build/genc" "$W/spec/ring.gm" -o "$TREE/ic_hand.c"
sed 's/^model gan_ring/model ic_spec/' specs/gan_ring.gm >"$W/elsewhere/ic_spec.gm"
"$TREE/build/genc" "$W/spec/ring.gm" -o "$W/elsewhere/ic_specc.c"
sed 's/^model gan_ring/model ic_new/' specs/gan_ring.gm >"$TREE/specs/ic_new.gm"
# mk ARGS...: make in the copy; the log on failure
mk() {
    $MAKE -C "$TREE" "$@" >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make $*"; }
}
mk ic_local
mk ic_hand
mk ic_spec SPEC="$W/elsewhere/ic_spec.gm"
mk SPEC="$W/elsewhere/ic_specc.c"
mk ic_new
for t in ic_local ic_hand ic_spec ic_specc ic_new; do
    [ -x "$TREE/$t" ] || fail "make did not build $t"
    runs "$t" "$TREE/$t"
done
gradcheck_in double 1e-06 "$TREE/ic_spec"
[ -e "$TREE/ic_local.c" ] && [ -e "$TREE/ic_spec.c" ] || fail "the C made of a spec was not kept (.SECONDARY)"
[ ! -e "$TREE/ic_specc.c" ] || fail "make SPEC=path/NAME.c copied the C into the tree"
mk -q ic_spec SPEC="$W/elsewhere/ic_spec.gm" || fail "ic_spec is not up to date after building it"
for bad in "SPEC=$W/nope.gm:no such file" "SPEC=$W/elsewhere:expected a spec" ; do
    if $MAKE -C "$TREE" "${bad%%:*}" >"$T/make.log" 2>&1; then fail "make ${bad%%:*} succeeded"; fi
    grep -q "${bad#*:}" "$T/make.log" || { cat "$T/make.log"; fail "make ${bad%%:*}: no clear message"; }
done
ok "make NAME: ./NAME.gm, ./NAME.c, SPEC=path/NAME.gm, SPEC=path/NAME.c and a new specs/NAME.gm build trainers that train"

# ---- make demo THREADS=N -------------------------------------------------
for th in 1 3; do
    n=$($MAKE -C "$TREE" -n demo THREADS=$th | grep -cE "^\./dcgan (train|sample) .*--threads $th\$" || true)
    [ "$n" = 2 ] || fail "make -n demo THREADS=$th: train and sample do not both get --threads $th"
done
[ "$($MAKE -C "$TREE" -n demo | grep -c -- --threads || true)" = 0 ] || fail "make demo passes --threads unasked"
[ "$(THREADS=5 $MAKE -C "$TREE" -n demo | grep -c -- --threads || true)" = 0 ] ||
    fail "THREADS in the environment changed make demo"
mk demo THREADS=1 DEMO_STEPS=3
[ "$(wc -l <"$TREE/runs/demo/metrics.csv")" = 4 ] || fail "make demo DEMO_STEPS=3: metrics.csv"
[ -s "$TREE/demo.png" ] || fail "make demo wrote no demo.png"
if $MAKE -C "$TREE" demo THREADS=0 DEMO_STEPS=1 >"$T/make.log" 2>&1; then fail "make demo THREADS=0 succeeded"; fi
grep -q -- "--threads expects an integer from 1" "$T/make.log" || { cat "$T/make.log"; fail "make demo THREADS=0: message"; }
ok "make demo THREADS=1 DEMO_STEPS=3 trains and samples on one thread; THREADS=N reaches both commands"

# ---- README ------------------------------------------------------------------
flags_section=$(sed -n '/^## Using genc/,/^## /p' README.md)
for f in $GENC_FLAGS; do
    printf '%s\n' "$flags_section" | grep -qE -- "^\| \`${f}[ \`]" || fail "README's genc flag table has no row for $f"
done
ok "README: a row for each genc flag"

echo "install_check: all $n_ok checks passed"
