"""Password guessing from many connections and source addresses, for `applianced-bench logins`
and tests/login.rs. Python because it can bind a client socket to a source address (127.0.0.x)
before connecting, which Rust's std cannot.

Each connection reads the greeting, then sends LOGIN with the given (wrong) password, waits for
the tagged answer and repeats, `--rounds` times or, with `--rounds 0`, until `--seconds` have
passed. Prints `ready N` once every connection has sent its first LOGIN (N connections that got
a greeting), then one JSON line with the answers counted by response code.
"""

import argparse
import asyncio
import json
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sources", required=True, help="comma-separated source addresses")
    p.add_argument("--per-source", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60.0)
    return p.parse_args()


def code_of(line):
    """OK, or the response code of a tagged NO/BAD (AUTHENTICATIONFAILED, UNAVAILABLE ...)."""
    parts = line.split(" ", 2)
    if len(parts) < 2:
        return "other"
    if parts[1] == "OK":
        return "OK"
    rest = parts[2] if len(parts) > 2 else ""
    if rest.startswith("[") and "]" in rest:
        return rest[1 : rest.index("]")].split(" ")[0]
    return parts[1]


async def one(args, source, counts, started, deadline):
    try:
        reader, writer = await asyncio.open_connection(args.host, args.port, local_addr=(source, 0))
    except OSError:
        counts["connect_failed"] = counts.get("connect_failed", 0) + 1
        started.release()
        return
    try:
        greeting = (await reader.readline()).decode("utf-8", "replace")
        if not greeting.startswith("* OK"):
            counts["refused_connection"] = counts.get("refused_connection", 0) + 1
            started.release()
            return
        counts["connected"] = counts.get("connected", 0) + 1
        n = 0
        first = True
        while (args.rounds == 0 or n < args.rounds) and time.monotonic() < deadline:
            n += 1
            tag = "g%d" % n
            writer.write(('%s LOGIN "%s" "%s"\r\n' % (tag, args.user, args.password)).encode())
            await writer.drain()
            if first:
                first = False
                started.release()
            while True:
                line = await asyncio.wait_for(reader.readline(), max(deadline - time.monotonic(), 0.1))
                if not line:
                    raise ConnectionError("closed")
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith(tag + " "):
                    break
            c = code_of(line)
            counts[c] = counts.get(c, 0) + 1
            if c == "OK":
                break
    except (OSError, ConnectionError, asyncio.TimeoutError):
        counts["unanswered"] = counts.get("unanswered", 0) + 1
        if first:
            started.release()
    finally:
        writer.close()


async def main():
    args = parse_args()
    sources = [s for s in args.sources.split(",") if s]
    counts = {}
    total = len(sources) * args.per_source
    started = asyncio.Semaphore(0)
    deadline = time.monotonic() + args.seconds
    tasks = [
        asyncio.ensure_future(one(args, s, counts, started, deadline))
        for s in sources
        for _ in range(args.per_source)
    ]
    for _ in range(total):
        await started.acquire()
    print("ready %d" % counts.get("connected", 0), flush=True)
    await asyncio.gather(*tasks)
    print(json.dumps(counts, sort_keys=True), flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
