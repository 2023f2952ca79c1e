#!/usr/bin/env python3
"""Writes a large debates.yaml for benchmarks: N debates (default 1000), each
repeating weekly for a year, spread over 50 rooms (more for more than 1,000
debates: at most 20 per room) and 7 weekdays so that none overlap, with the
zones and questions a real community would use."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rooms = max(50, -(-n // 20))
out = [
    "timezone: Europe/London",
    "zones: [Europe/London, America/New_York, Asia/Kolkata, Australia/Sydney]",
    "remind: [1d, 1h, 10m]",
    "organisers: [\"@host:example.org\"]",
    "debates:",
]
for i in range(n):
    room = i % rooms
    slot = i // rooms         # 0..19: which (weekday, hour) in this room
    day = 1 + slot % 7        # 2026-06-01 is a Monday
    hour = 8 + slot // 7 * 3  # 08:00, 11:00, 14:00
    out += [
        f"  - id: debate-{i}",
        "    # a comment, as real files have",
        f"    title: \"Debate number {i}: what should we do next?\"",
        f"    starts: 2026-06-{day:02d} {hour:02d}:00",
        "    duration: 1h",
        "    repeat: weekly",
        "    until: 2027-05-31",
        f"    rooms: [\"#room-{room}:example.org\"]",
        "    questions:",
        "      - What is the question?",
        "      - text: Why does it matter?",
        "        at: 15m",
        "      - What would you change?",
        "      - text: What will you do this week?",
        "        at: 45m",
    ]
print("\n".join(out))
