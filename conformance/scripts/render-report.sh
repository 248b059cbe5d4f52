#!/usr/bin/env bash
# Render a conformance HTML report in headless Chromium: a PNG of the page, and the DOM as the
# browser built it (to check what a tester sees).
#
#   conformance/scripts/render-report.sh target/conformance/report.html report.png [dom.html]
#
# Needs Debian's chromium (apt-get install chromium). Nothing leaves the machine: the page is a
# local file and Chromium's background networking is off.
set -euo pipefail
report=${1:?usage: render-report.sh REPORT.html OUT.png [DOM.html]}
png=${2:?usage: render-report.sh REPORT.html OUT.png [DOM.html]}
dom=${3:-}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "render-report.sh: chromium is not installed (apt-get install chromium)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(realpath "$report")"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars)
"$browser" "${flags[@]}" --window-size=1400,2000 --screenshot="$(realpath -m "$png")" "$url" 2>/dev/null
[ -s "$png" ] || { echo "render-report.sh: no screenshot was written" >&2; exit 1; }
if [ -n "$dom" ]; then
    "$browser" "${flags[@]}" --dump-dom "$url" 2>/dev/null >"$dom"
fi
echo "rendered $report → $png${dom:+ and $dom}"
