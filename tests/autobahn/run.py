"""Runs the Autobahn WebSocket conformance cases against io-core's RFC 6455 layer.

The core cases (groups 1 to 7, 9 and 10; 12 and 13 are permessage-deflate, which is not implemented) are
driven by kosoku, a runner of Autobahn's own case files, against `ws_echo`, a plain
echo server on io-core's handshake and decoder. Each case's verdict (behavior, and behavior
of the close) is compared with `expected.json` beside this file: any change, better or
worse, fails, so that a change of conformance is always a decision, as in tungstenite's CI.

    python tests/autobahn/run.py --server target/debug/ws_echo [--update]

All 301 cases take a few seconds. --update writes the verdicts of this run into
expected.json instead of comparing. The verdicts go to --out as verdicts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from kosoku import FailureError, run_fuzzingclient

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.json"
CORE = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"]


def start(server: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [server, "--port", "0"], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        sys.exit(f"autobahn: {server} did not start (it said {line!r})")
    return proc, line.removeprefix("listening on ")


async def run(address: str) -> list:
    try:
        return await run_fuzzingclient(f"ws://{address}", CORE, None, concurrency=2)
    except FailureError as failure:
        # Failed cases are verdicts like any other: the comparison decides.
        return failure.results


def verdicts(results: list) -> dict[str, str]:
    return {
        r.case_id: f"{r.behavior.value} / {r.behavior_close.value}" for r in results
    }


def case_key(case_id: str) -> list[int]:
    return [int(p) for p in case_id.split(".")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the ws_echo binary")
    parser.add_argument("--update", action="store_true", help="write expected.json")
    parser.add_argument("--out", default="target/autobahn", help="report directory")
    args = parser.parse_args()

    proc, address = start(args.server)
    began = time.monotonic()
    try:
        results = asyncio.run(run(address))
    finally:
        proc.kill()
        proc.wait()
    got = verdicts(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "verdicts.json").write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for v in got.values():
        counts[v] = counts.get(v, 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    print(f"autobahn: {len(got)} cases in {time.monotonic() - began:.0f} s: {summary}")

    if args.update:
        expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
        expected.update(got)
        ordered = dict(sorted(expected.items(), key=lambda kv: case_key(kv[0])))
        EXPECTED.write_text(json.dumps(ordered, indent=1) + "\n")
        print(f"autobahn: wrote {len(ordered)} verdicts to {EXPECTED}")
        return 0

    expected = json.loads(EXPECTED.read_text())
    changed = [
        (case, expected.get(case, "(not in expected.json)"), verdict)
        for case, verdict in sorted(got.items(), key=lambda kv: case_key(kv[0]))
        if expected.get(case) != verdict
    ]
    for case, was, now in changed:
        print(f"autobahn: case {case}: expected {was}, got {now}")
    if changed or not got:
        print(
            f"autobahn: {len(changed)} verdicts changed; reports in {out}/ "
            "(if the change is intended: run again with --update and commit expected.json)"
        )
        return 1
    print("autobahn: every verdict as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
