#!/usr/bin/env bash
# Checks a built bundle (default dist/sim-desk) the way an IT team would after deploying it:
#   1. `sim-desk --version` prints the version of the source it was built from;
#   2. `sim-desk self-test` passes with no display, in an empty home and temporary folder, and
#      leaves nothing in either (nor a __pycache__ inside the bundle);
#   3. `sim-desk --snapshot-reader` (started by the app at a first sync) answers an empty
#      snapshot with one empty page;
#   4. `sim-desk` with no arguments starts the GUI (the first-run wizard, offscreen) and is
#      still running 10 seconds later;
# then prints the bundle's size and its largest folders.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-dist/sim-desk}
app=$bundle/sim-desk
test -x "$app" || { echo "installer-smoke: no $app; run make installer first" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/home" "$scratch/tmp"
# No display, no session variables from whoever runs this: only what a fresh login would have.
headless=(env -i "PATH=/usr/bin:/bin" "HOME=$scratch/home" "TMPDIR=$scratch/tmp" "LANG=C.UTF-8")

echo "== $app --version"
expected="SIM Desk $(sed -n 's/^__version__ = "\(.*\)"$/\1/p' sim_desk/__init__.py)"
version=$("${headless[@]}" "$app" --version)
echo "$version"
[[ "$version" == "$expected" ]] || { echo "installer-smoke: expected '$expected'" >&2; exit 1; }

echo "== $app self-test (no display)"
"${headless[@]}" "$app" self-test
left=$(find "$scratch/home" "$scratch/tmp" -mindepth 1 | awk 'NR <= 5')
[[ -z "$left" ]] || { echo "installer-smoke: self-test left files behind:" >&2; echo "$left" >&2; exit 1; }
caches=$(find "$bundle" -name __pycache__ | awk 'NR <= 5')
[[ -z "$caches" ]] || { echo "installer-smoke: bytecode written into the bundle: $caches" >&2; exit 1; }

echo "== $app --snapshot-reader (the process that reads a first sync's rows)"
# An empty binary COPY in: one page with no rows out (its length in 8 bytes, then the page).
answered=$(printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\377\377' \
    | "${headless[@]}" "$app" --snapshot-reader 10 | wc -c)
[[ "$answered" -gt 8 ]] || { echo "installer-smoke: the snapshot reader answered $answered bytes" >&2; exit 1; }
echo "answered with one page ($answered bytes)"

echo "== $app (the GUI, offscreen): first-run wizard stays up"
status=0
"${headless[@]}" QT_QPA_PLATFORM=offscreen timeout 10 "$app" >"$scratch/gui.log" 2>&1 || status=$?
if [[ $status -ne 124 ]]; then
    echo "installer-smoke: the GUI exited with status $status within 10 s:" >&2
    cat "$scratch/gui.log" >&2
    exit 1
fi
echo "still running after 10 s (stopped by timeout, as intended)"

echo "== size"
du -sh "$bundle"
# awk reads all of sort's output (head would close the pipe early: SIGPIPE, exit 141 under
# pipefail).
du -sh "$bundle"/_internal/* | sort -rh | awk 'NR <= 12'
