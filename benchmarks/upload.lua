-- wrk script: POST one JPEG as multipart/form-data to /v1/drafts with a bearer token.
-- Env: LOUPE_BENCH_PHOTO (path), LOUPE_BENCH_TOKEN. Counts responses by status across threads; with
-- LOUPE_BENCH_IDS, writes the draft id of every 201 (from its Location header) to that file, one a line.
-- Every upload is a different file, as real uploads are: a JPEG comment segment (COM, ignored by
-- decoders) right after the start-of-image marker carries the run's start time, the wrk thread and a
-- counter, so the content-addressed object store writes and fsyncs every photo instead of finding it
-- already stored.
local boundary = "loupe-bench-boundary"
local f = assert(io.open(os.getenv("LOUPE_BENCH_PHOTO"), "rb"))
local photo = f:read("*all")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("LOUPE_BENCH_PATH") or "/v1/drafts"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LOUPE_BENCH_TOKEN")
local upload = wrk.path == "/v1/drafts"
assert(photo:sub(1, 2) == "\255\216", "LOUPE_BENCH_PHOTO is not a JPEG")
local head = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"bench.jpg\"\r\n"
  .. "Content-Type: image/jpeg\r\n\r\n\255\216"
local tail = photo:sub(3) .. "\r\n--" .. boundary .. "--\r\n"
if upload then
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
else
  wrk.method = "GET"
  wrk.body = nil
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
  thread:set("run", os.time())
end
function init(args) statuses = {}; created = ""; sent = 0 end
function request()
  if not upload then return wrk.format() end
  sent = sent + 1
  local text = string.format("loupe-bench run %d thread %d upload %d", run, thread_id, sent)
  local length = #text + 2  -- the segment's length counts its own two bytes
  local comment = "\255\254" .. string.char(math.floor(length / 256), length % 256) .. text
  return wrk.format(nil, nil, nil, head .. comment .. tail)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local location = headers["Location"] or headers["location"]
  if status == 201 and location then created = created .. location:match("(%d+)$") .. "\n" end
end
function done(summary, latency, requests)
  local counts = {}
  local ids = os.getenv("LOUPE_BENCH_IDS") and assert(io.open(os.getenv("LOUPE_BENCH_IDS"), "w"))
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do counts[k] = (counts[k] or 0) + v end
    if ids then ids:write(t:get("created")) end
  end
  if ids then ids:close() end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, k .. "=" .. v) end
  table.sort(parts)
  io.write(string.format("RESULT requests=%d seconds=%.1f rps=%.2f p50_ms=%.1f p99_ms=%.1f socket_errors=%d statuses=%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, table.concat(parts, ",")))
end
