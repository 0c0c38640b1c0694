-- Run benchmark operations under valgrind's callgrind and print the
-- instructions each executed per event.
--
--   lua5.4 bench/profile.lua PAGE [OPERATION...]
--
-- Instruction counts do not depend on what else the machine runs, so they
-- complement the timings of bench/run.lua on a shared machine. For each
-- operation the script runs
--
--   valgrind --tool=callgrind lua5.4 bench/profile.lua --child OPERATION PAGE
--
-- and subtracts the count of the operation "none", which does the same setup
-- (read the page, decode it once with cjson and once with msgraph-migration,
-- then a full garbage collection) and nothing else. Decode, scan and encode
-- operations run 3 times over the page, field reads 100 times. The callgrind
-- output files stay in build/bench/callgrind.OPERATION for callgrind_annotate.

-- Returns how many times an operation runs over the page.
local function repeats(operation)
	return operation:match("^read%-") and 100 or 3
end

local script = arg[0]
local script_dir = script:match("^(.*)/[^/]*$") or "."
package.cpath = script_dir .. "/../build/bench/?.so;" .. package.cpath

local OPERATIONS = {
	"decode-ours", "decode-cjson", "scan-floor", "encode-ours", "encode-cjson", "read-ours", "read-table",
	"read-metamethod",
}

local HAS_RETRY_COUNT = require("bench.common").types_with("totalRetryCount")

local function read_fields(events)
	for i = 1, #events do
		local event = events[i]
		local _, _, _ = event.jobId, event.eventDateTime, event.totalRetryCount
	end
end

local function run_child(operation, path)
	local cjson = require "cjson"
	local migration = require "msgraph.migration"
	local yajl_floor = require "yajl_floor"

	local file = assert(io.open(path, "rb"))
	local text = file:read("a")
	file:close()
	local tables = cjson.decode(text).value
	local events = migration.decode_page(text)
	local tables_with_retry, events_with_retry, proxies = {}, {}, {}
	local metamethod = { __index = rawequal }
	for i = 1, #events do
		if HAS_RETRY_COUNT[migration.type(events[i])] then
			events_with_retry[#events_with_retry + 1] = events[i]
			tables_with_retry[#tables_with_retry + 1] = tables[i]
			proxies[#proxies + 1] = setmetatable({}, metamethod)
		end
	end

	local steps = {
		["none"] = function() end,
		["decode-ours"] = function()
			return migration.decode_page(text)
		end,
		["decode-cjson"] = function()
			return cjson.decode(text)
		end,
		["scan-floor"] = function()
			return yajl_floor.scan(text)
		end,
		["encode-ours"] = function()
			local encode = migration.encode
			for i = 1, #events do
				encode(events[i])
			end
		end,
		["encode-cjson"] = function()
			local encode = cjson.encode
			for i = 1, #tables do
				encode(tables[i])
			end
		end,
		["read-ours"] = function()
			read_fields(events_with_retry)
		end,
		["read-table"] = function()
			read_fields(tables_with_retry)
		end,
		["read-metamethod"] = function()
			read_fields(proxies)
		end,
	}
	local step = steps[operation]
	if not step then
		io.stderr:write("unknown operation: ", operation, "\n")
		os.exit(2)
	end
	collectgarbage("collect")
	for _ = 1, repeats(operation) do
		step()
	end
	print(string.format("%d %d", #events, #events_with_retry))
end

-- Runs the child under callgrind. Returns its instruction count, the number of
-- events on the page and how many of them carry totalRetryCount.
local function callgrind(operation, path)
	local output_file = string.format("%s/../build/bench/callgrind.%s", script_dir, operation)
	local command = string.format("valgrind --tool=callgrind --callgrind-out-file=%q %q %q --child %s %q 2>&1",
		output_file, arg[-1] or "lua5.4", script, operation, path)
	local child = assert(io.popen(command, "r"))
	local output = child:read("a")
	local ok = child:close()
	local instructions = output:match("Collected : (%d+)") or output:match("I%s+refs:%s+([%d,]+)")
	if not ok or not instructions then
		io.stderr:write("callgrind run for ", operation, " failed:\n", output, "\n")
		os.exit(1)
	end
	local events, with_retry = output:match("\n(%d+) (%d+)\n")
	return tonumber((instructions:gsub(",", ""))), tonumber(events), tonumber(with_retry)
end

local function main()
	if arg[1] == "--child" then
		run_child(arg[2], arg[3])
		return
	end
	local path = arg[1]
	if not path then
		io.stderr:write("usage: lua5.4 bench/profile.lua PAGE [OPERATION...]\n")
		os.exit(2)
	end
	local operations = { table.unpack(arg, 2) }
	if #operations == 0 then
		operations = OPERATIONS
	end

	local baseline, events, with_retry = callgrind("none", path)
	print(string.format("callgrind instructions (%d events, %d with totalRetryCount, setup of %d instructions " ..
		"subtracted)", events, with_retry, baseline))
	for _, operation in ipairs(operations) do
		local instructions = callgrind(operation, path) - baseline
		local per_event
		if operation:match("^read%-") then
			-- Three reads per event that carries totalRetryCount.
			per_event = string.format("%8.0f per field read, loop included", instructions / repeats(operation) /
				with_retry / 3)
		else
			per_event = string.format("%8.0f per event", instructions / repeats(operation) / events)
		end
		print(string.format("  %-16s %s", operation, per_event))
	end
end

main()
