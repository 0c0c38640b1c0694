-- Iterate a page file through migration.page_decoder() in 64 KiB chunks.
--
--   lua5.4 bench/stream.lua PAGE
--
-- Keeps no event after reading it, so the process's peak RSS shows what the
-- incremental decoder itself holds. make bench-stream runs this under
-- /usr/bin/time -v on a 1 GiB page. Prints the event count, the sum of every
-- totalRetryCount (a check that the events were really decoded), the
-- nextLink, and the CPU time.

local migration = require "msgraph.migration"

local CHUNK_SIZE = 64 * 1024

local HAS_RETRY_COUNT = require("bench.common").types_with("totalRetryCount")

local path = arg[1]
if not path then
	io.stderr:write("usage: lua5.4 bench/stream.lua PAGE\n")
	os.exit(2)
end
local file, open_error = io.open(path, "rb")
if not file then
	io.stderr:write("cannot read page: ", open_error, "; run make bench-stream to generate it\n")
	os.exit(1)
end

local start = os.clock()
local decoder = migration.page_decoder()
local count, retries, bytes = 0, 0, 0

local function drain()
	while true do
		local event = decoder:next_event()
		if event == nil then
			return
		end
		count = count + 1
		if HAS_RETRY_COUNT[migration.type(event)] then
			retries = retries + event.totalRetryCount
		end
	end
end

while true do
	local chunk = file:read(CHUNK_SIZE)
	if chunk == nil then
		break
	end
	bytes = bytes + #chunk
	decoder:feed(chunk)
	drain()
end
file:close()
local next_link = decoder:finish()
local seconds = os.clock() - start

print(string.format("stream: %d events, totalRetryCount sum %d, %.1f MB in %.2f s CPU (%.1f MB/s, %.0f events/s)",
	count, retries, bytes / 1e6, seconds, bytes / 1e6 / seconds, count / seconds))
print("stream: nextLink " .. tostring(next_link))
