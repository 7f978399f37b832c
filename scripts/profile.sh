#!/usr/bin/env bash
# Where the time of a standard sweep goes, by room: perf samples with DWARF call graphs,
# split by scripts/profile-rooms.py. Usage: scripts/profile.sh [SEEDS] (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-60}"
command -v perf >/dev/null || { echo "profile.sh needs perf (Debian: linux-perf)" >&2; exit 2; }
cargo build --release --quiet
data="$(mktemp -d)/perf.data"
perf record -q -F 499 --call-graph dwarf,16384 -o "$data" \
    target/release/kafka-sim sweep standard --seeds "0..$seeds" --jobs 1 >/dev/null
perf script -i "$data" 2>/dev/null | scripts/profile-rooms.py
