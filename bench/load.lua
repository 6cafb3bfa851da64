-- wrk script for `make bench`: every request carries one of the tokens in
-- $TOKENS (round robin), with method $METHOD and body $BODY; at the end it
-- prints one RESULT line of JSON for bench/run.py to read.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads * 7919)
end

local n = 0
function request()
  n = n + 1
  local token = tokens[((offset or 0) + n) % #tokens + 1]
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  return wrk.format(method, nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
