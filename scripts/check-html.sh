#!/usr/bin/env bash
# Renders the timeline page of `single-replica-power-loss` seed 0 in headless Chromium:
# fails if the page's script reported an error or did not finish drawing, or if the run
# summary's figures or the latency plot are missing, then writes a screenshot to
# docs/timeline.png. Installs Debian's chromium if it is missing (needs root).
#
#   scripts/check-html.sh [SCENARIO [SEED [FROM-TO]]]      (SCENARIO: a built-in or a TOML file)
#
# Another run, or a zoomed view (FROM-TO in simulated ms), is screenshot to
# $KAFKA_SIM_PNG (default /tmp/timeline-SCENARIO-SEED.png), leaving docs/ alone.
set -euo pipefail
cd "$(dirname "$0")/.."

png=docs/timeline.png
view=""
if [[ $# -gt 0 ]]; then
    scenario="$1"
    # A TOML file: the test runs in tests/, so pass an absolute path.
    [[ -f "$scenario" ]] && scenario="$(realpath "$scenario")"
    export KAFKA_SIM_SCENARIO="$scenario" KAFKA_SIM_SEED="${2:-0}"
    view="${3:+#$3}"
    png="${KAFKA_SIM_PNG:-/tmp/timeline-$(basename "$1" .toml)-${2:-0}.png}"
fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "check-html: chromium is missing: installing Debian's chromium with apt-get (needs root)" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "check-html: not root: install chromium yourself (apt-get install chromium) and rerun" >&2
        exit 2
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
page="$work/timeline.html"

KAFKA_SIM_HTML_OUT="$page" cargo test --release -q -p kafka-sim-tests --test all \
    -- --ignored timeline::write_html_for_browser
test -s "$page" || { echo "check-html: no page written" >&2; exit 1; }

browser() {
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d -p "$work")" --enable-logging=stderr --v=0 \
        --hide-scrollbars "$@" 2>>"$work/chromium.log"
}

browser --dump-dom "file://$page" >"$work/dom.html" || true
body=$(grep -o '<body[^>]*>' "$work/dom.html" | head -1 || true)
if [[ "$body" == *data-error=* ]]; then
    echo "check-html: the page reported an error: $body" >&2
    exit 1
fi
if [[ "$body" != *'data-ready="yes"'* ]]; then
    echo "check-html: the page did not finish drawing (body: ${body:-none})" >&2
    grep -i 'console\|error' "$work/chromium.log" | tail -20 >&2 || true
    exit 1
fi
if grep -q 'Uncaught' "$work/chromium.log"; then
    echo "check-html: uncaught script error:" >&2
    grep 'Uncaught' "$work/chromium.log" >&2
    exit 1
fi
# The run summary's figures and the latency plot, as the browser parsed them.
dom=$(tr '\n' ' ' <"$work/dom.html")
figures=$(grep -o '<pre id="figures">[^<]*' <<<"$dom" | head -1 || true)
for row in "anomalies:" "measured:" "producer latency" "acknowledged writes lost"; do
    if [[ "$figures" != *"$row"* ]]; then
        echo "check-html: the run summary has no \`$row\` row" >&2
        exit 1
    fi
done
points=$(grep -o '<svg id="latency"[^>]*data-points="[0-9]*"' <<<"$dom" | grep -o '[0-9]*"$' | tr -d '"' || true)
dots=$(grep -o '<svg id="latency".*' <<<"$dom" | sed 's|</svg>.*||' | grep -o '<circle' | wc -l)
if [[ -z "$points" ]]; then
    echo "check-html: no latency plot" >&2
    exit 1
fi
if [[ "$points" -gt 0 && "$dots" -eq 0 ]]; then
    echo "check-html: the latency plot has $points sends and no dot" >&2
    exit 1
fi
echo "check-html: the run summary and the latency plot ($dots dots for $points acknowledged sends) are on the page"
echo "check-html: the page drew without errors"

mkdir -p "$(dirname "$png")"
rm -f "$png"
case "$png" in /*) shot="$png" ;; *) shot="$PWD/$png" ;; esac
browser --screenshot="$shot" --window-size=1600,1000 "file://$page$view" >/dev/null || true
test -s "$png" || { echo "check-html: no screenshot" >&2; exit 1; }
echo "check-html: wrote $png (screenshot)" >&2
