"""Replaying pre-built HTTP/1.1 requests with wrk: a load generator that costs the two shared CPUs little.

The inbox benchmark's requests are signed before the timed phase; the Python asyncio generator that sends
them takes a fair share of a CPU on a 2-CPU machine, CPU the server under test then lacks. wrk (C, epoll)
sends the very same bytes through a Lua script: each of its threads takes every n-th request of a file
(so no request is sent twice), counts the answers by status, and stops when its share runs out.
Each request carries ``Connection: close``, so, as with the Python generator, every request is its own
connection.

    result = replay.run(port, requests, connections=16, duration=10)   # None when wrk is not installed
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

HOST = "127.0.0.1"
THREADS = 2

# One table per wrk thread (each has its own Lua state): setup() numbers the threads, init() reads the file
# and keeps requests i with i % threads == tid, done() sums what every thread counted and prints one line.
LUA = r"""
local threads, count = {}, 0

function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  reqs, statuses, sent, exhausted = {}, {}, 0, 0
  local pos, i = 1, 0
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    if i % nthreads == tid then
      reqs[#reqs + 1] = string.sub(data, nl + 1, nl + len)
    end
    i = i + 1
    pos = nl + 1 + len
  end
end

function request()
  if sent >= #reqs then
    -- Out of requests: stop this thread; what wrk sends meanwhile is a repeat (a 202 that stores nothing).
    exhausted = 1
    wrk.thread:stop()
    return reqs[#reqs]
  end
  sent = sent + 1
  return reqs[sent]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local parts, total, exhaust = {}, {}, 0
  local sent_all = 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do total[k] = (total[k] or 0) + v end
    sent_all = sent_all + thread:get("sent")
    exhaust = math.max(exhaust, thread:get("exhausted"))
  end
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  local e = summary.errors
  io.write(string.format('REPLAY {"statuses": {%s}, "sent": %d, "exhausted": %s, "seconds": %.6f, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}}\n', table.concat(parts, ", "), sent_all, exhaust == 1 and "true" or "false",
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(port: int, requests: list[bytes], connections: int, duration: float, threads: int = THREADS) -> dict | None:
    """Send ``requests`` (each complete, in order of the list) on ``connections`` connections for at most
    ``duration`` seconds. The result has the Python generator's keys (statuses, seconds, sent, exhausted,
    p50_ms, p95_ms) plus wrk's socket errors; None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="linkblog-replay-") as folder:
        script, data = Path(folder) / "replay.lua", Path(folder) / "requests.bin"
        script.write_text(LUA, encoding="utf-8")
        with data.open("wb") as handle:
            for raw in requests:
                handle.write(b"%d\n" % len(raw) + raw)
        seconds = max(1, round(duration))
        cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
               f"http://{HOST}:{port}/", "--", str(data), str(threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((line for line in out.stdout.splitlines() if line.startswith("REPLAY ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {out.returncode}): {out.stdout[-300:]}{out.stderr[-300:]}")
    result = json.loads(line[len("REPLAY "):])
    result["generator"] = f"wrk -t{threads} -c{connections} (Lua replay)"
    return result
