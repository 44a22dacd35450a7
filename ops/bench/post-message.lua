-- wrk script for ops/bench/ingest: the relay's plain-text POST /v1/messages.
-- Each request carries a 500-byte text, a unique external_id (run id, thread id, counter) and
-- one of ~50 channel users. Settings come from the environment:
--   CV_BENCH_TOKEN (required) relay bearer token · CV_BENCH_DESK (default bench-desk)
--   CV_BENCH_RUN   prefix for external ids (default: the start time)
-- done() prints one line `RESULT key=value …` that ops/bench/ingest parses.

local threads = {}
local thread_count = 0

function setup(thread)
    thread_count = thread_count + 1
    thread:set("id", thread_count)
    table.insert(threads, thread)
end

function init(args)
    token = os.getenv("CV_BENCH_TOKEN") or error("CV_BENCH_TOKEN is not set")
    desk = os.getenv("CV_BENCH_DESK") or "bench-desk"
    run = os.getenv("CV_BENCH_RUN") or tostring(os.time())
    counter = 0
    non2xx = 0
    first_failure = ""
    text = string.rep("0123456789", 50) -- 500 bytes, ASCII so the count is exact
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
    counter = counter + 1
    local user = string.format("U%032x", 0xbe0000 + counter % 50)
    local sent_at = os.date("!%Y-%m-%dT%H:%M:%S.000+00:00")
    local body = string.format(
        '{"desk":"%s","channel":"line","channel_user":"%s","external_id":"bench-%s-%d-%d",'
            .. '"sent_at":"%s","kind":"text","text":"%s"}',
        desk, user, run, id, counter, sent_at, text)
    return wrk.format("POST", "/v1/messages", nil, body)
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if first_failure == "" then
            first_failure = status .. " " .. string.sub(body or "", 1, 200)
        end
    end
end

function done(summary, latency, requests)
    local non2xx_total = 0
    for _, thread in ipairs(threads) do
        non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
        local failure = thread:get("first_failure")
        if failure and failure ~= "" then
            io.write("first non-2xx answer: ", failure, "\n")
        end
    end
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        non2xx_total, e.connect + e.read + e.write + e.timeout))
end
