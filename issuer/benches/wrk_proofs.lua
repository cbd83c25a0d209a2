-- wrk script: GET /v1/tokens/{id}/proof for token ids drawn at random from
-- a file (one base64url id per line), to measure inclusion-proof latency on
-- a large log (docs/performance.md, "Inclusion proofs at 1,000,000
-- entries"). Not a test.
--
--   # a log of 1,000,000 tokens: bench_server + 10 loadgen runs of 100,000
--   python3 -c 'import sqlite3,base64,sys; [print(base64.urlsafe_b64encode(r[0]).decode().rstrip("=")) for r in sqlite3.connect(sys.argv[1]).execute("SELECT token_id FROM entries")]' /tmp/p/log.db > /tmp/p/ids
--   IDS=/tmp/p/ids wrk -t1 -c16 -d20s --latency -s issuer/benches/wrk_proofs.lua http://127.0.0.1:18080
--
-- The first few answers other than 200 are printed; wrk's own "Non-2xx"
-- line counts them all.

local file = os.getenv("IDS") or error("set IDS to a file of token ids")
local ids = {}
for line in io.lines(file) do
  ids[#ids + 1] = line
end
if #ids == 0 then error("no ids in " .. file) end
math.randomseed(os.time())
local bad = 0

request = function()
  return wrk.format("GET", "/v1/tokens/" .. ids[math.random(#ids)] .. "/proof")
end

response = function(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then print("status " .. status .. ": " .. body) end
  end
end
