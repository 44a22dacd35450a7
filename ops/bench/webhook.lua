-- wrk script for ops/bench/relay: posts pre-signed LINE webhook bodies, one per request, from the file
-- CV_BENCH_BODIES ("signature<TAB>body" lines, each a distinct webhookEventId), with CV_BENCH_AUTH as the
-- Authorization header when set (the vault's own /v1/line route) and none otherwise (the relay).
local bodies = {}
local index = 0
local stride = 1
local auth = os.getenv("CV_BENCH_AUTH")
local path = os.getenv("CV_BENCH_PATH")
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    local f = assert(io.open(os.getenv("CV_BENCH_BODIES"), "r"))
    for line in f:lines() do
        local sig, body = line:match("^([^\t]+)\t(.*)$")
        bodies[#bodies + 1] = { sig, body }
    end
    f:close()
    stride = tonumber(os.getenv("CV_BENCH_THREADS") or "1")
    index = id
end

function request()
    local b = bodies[(index % #bodies) + 1]
    index = index + stride
    local headers = { ["Content-Type"] = "application/json", ["X-Line-Signature"] = b[1] }
    if auth and auth ~= "" then headers["Authorization"] = auth end
    return wrk.format("POST", path, headers, b[2])
end

function done(summary, latency, requests)
    local non2xx = summary.errors.status
    io.write(string.format(
        "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
