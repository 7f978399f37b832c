#!/usr/bin/env python3
"""Splits a `perf script` call-graph dump of kafka-sim into the harness's rooms.

Each sample goes to the room of the innermost frame that names one (allocation and
formatting count for whoever asked for them). Usage: scripts/profile.sh, or
`perf script -i perf.data | scripts/profile-rooms.py`.
"""
import re
import sys

# Innermost match wins; order matters only within one frame.
ROOMS = [
    ("trace text and hash", re.compile(r"kafka_sim::(trace|events::render)")),
    ("history", re.compile(r"kafka_sim::history")),
    ("invariants, checkers, coverage", re.compile(
        r"kafka_sim::(invariants|checkers|errors|coverage|excuse|quorum)")),
    ("event log and belief", re.compile(r"kafka_sim::(events|faults::belief|world::triggers)")),
    ("model (protocol state machines)", re.compile(r"kafka_model::")),
    ("simulated disk", re.compile(r"kafka_sim::disk")),
    ("actors' glue, world, network faults", re.compile(
        r"kafka_sim::(actors|world|network|nemesis|runner|liveness_phase)")),
    ("madsim (scheduler, timers, network)", re.compile(r"madsim::|naive_timer|async_task")),
]
OTHER = "other (sweep, process start)"


def room_of(frames):
    for frame in frames:
        for name, pattern in ROOMS:
            if pattern.search(frame):
                return name
    return OTHER


def main():
    counts = {}
    frames = []
    total = 0
    for line in list(sys.stdin) + [""]:
        line = line.rstrip("\n")
        if line.strip() == "":
            if frames:
                room = room_of(frames)
                counts[room] = counts.get(room, 0) + 1
                total += 1
            frames = []
        elif line.startswith((" ", "\t")):
            frames.append(line.strip())
    if total == 0:
        sys.exit("no samples with call graphs in the input")
    print(f"| room | share of {total} samples |")
    print("| --- | ---: |")
    order = [name for name, _ in ROOMS] + [OTHER]
    for name in sorted(order, key=lambda n: -counts.get(n, 0)):
        if counts.get(name):
            print(f"| {name} | {100.0 * counts[name] / total:.0f} % |")


if __name__ == "__main__":
    main()
