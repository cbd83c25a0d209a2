-- wrk script: POST a distinct stone to /v1/tokens on every request, as the
-- load generator (issuer/examples/loadgen.rs) does, for a cross-check with
-- an independent client. Not a test.
--
--   target/release/examples/bench_server sqlite:///tmp/b/log.db 127.0.0.1:18080 /tmp/b/media  # prints API_KEY=…
--   API_KEY=… wrk -t1 -c256 -d20s --latency -s issuer/benches/wrk_tokens.lua http://127.0.0.1:18080
--
-- Digests are 64 hex digits unique per (role, request), not hashes of real
-- files: the issuer checks their form only. Any answer but 201 is counted
-- and printed (the first few) at the end; wrk's own "Non-2xx" line counts them too.

local key = os.getenv("API_KEY") or error("set API_KEY")
local prefix = os.getenv("PREFIX") or ("WRK-" .. tostring(os.time()))
local n = 0
local refused = 0
local roles = {"face-up", "table", "pavilion", "side", "girdle", "swatch"}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
local stone = '"stone":{"variety":"Ruby","species":"Corundum","weight_mct":%d,"colour":"red",'
  .. '"shape":"oval","cut":"mixed","clarity":"VS","dimensions_um":[7100,5600,3400],"treatment":"none"}'
local body = '{"report_number":"%s-%d","report":{"sha256":"%s","media_type":"application/pdf","size":180000},'
  .. '"images":[%s],"videos":[{"role":"light-play","sha256":"%s","media_type":"video/mp4","size":28000000}],'
  .. stone .. '}'

local function digest(tag, i)
  return string.format("%02d%030d%032d", tag, 0, i)
end

request = function()
  n = n + 1
  local images = {}
  for r = 1, #roles do
    images[r] = string.format('{"role":"%s","sha256":"%s","media_type":"image/jpeg","size":%d}',
      roles[r], digest(r, n), 2500000 - r * 100000)
  end
  return wrk.format("POST", "/v1/tokens", headers,
    string.format(body, prefix, n, digest(0, n), table.concat(images, ","), digest(7, n), 1000 + n % 5000))
end

response = function(status, _, answer)
  if status ~= 201 then
    refused = refused + 1
    if refused <= 3 then print("answer " .. status .. ": " .. answer) end
  end
end
