-- Benchmark msgraph-migration against lua-cjson, dkjson and a bare YAJL scan.
--
--   lua5.4 bench/run.lua --page PAGE --small SMALL [--runs N] [--results FILE]
--
-- PAGE is a large page written by bench/generate.lua (make bench uses 100,000
-- events) and SMALL a small one for the in-cache field reads. Every figure is
-- the median of N timed runs (default 5) after one warm-up run, measured with
-- os.clock (CPU time of this process). A full garbage collection precedes
-- each run, so no run pays for the garbage of the one before.
--
-- Every decoder must produce the same events: the script compares the event
-- count and a checksum over ids and counters and stops on a mismatch. The
-- checksum is FNV-1a (32-bit) over each id followed by a newline byte, and the
-- exact sum of totalRetryCount, filesProcessed, bytesProcessed and jobsInQueue
-- over the events that carry them. bench/node/kiota-bench.mjs computes the same.
--
-- Field reads use jobId, eventDateTime and totalRetryCount: two strings that
-- every event has and the Int32 counter that every type except queued, deleted
-- and manifest upload has. The field-read figures run over the events that
-- carry totalRetryCount. End to end reads all three where the type has them.
--
-- With --results FILE the script also writes its figures as key=value lines,
-- which the node companion reads to print its ratios.

local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.cpath = script_dir .. "/../build/bench/?.so;" .. package.cpath

local cjson = require "cjson"
local dkjson = require "dkjson"
local yajl_floor = require "yajl_floor"

-- dkjson.use_lpeg replaces dkjson.decode with an LPeg parser in place, so the
-- pure Lua decoder is kept first.
local dkjson_decode = dkjson.decode
local dkjson_lpeg_decode
if pcall(require, "lpeg") then
	dkjson_lpeg_decode = dkjson.use_lpeg().decode
end

local migration = require "msgraph.migration"

local USAGE = [[
usage: lua5.4 bench/run.lua --page PAGE --small SMALL [--runs N] [--results FILE]
  --page PAGE      large page from bench/generate.lua (decode, encode, memory, end to end)
  --small SMALL    small page for the in-cache field reads
  --runs N         timed runs per figure, after one warm-up run (default 5)
  --results FILE   also write the figures as key=value lines to FILE]]

local function parse_arguments(args)
	local options = { runs = 5 }
	local i = 1
	while i <= #args do
		local name, value = args[i], args[i + 1]
		if name == "--page" then
			options.page = value
		elseif name == "--small" then
			options.small = value
		elseif name == "--runs" then
			options.runs = math.tointeger(tonumber(value))
			if not options.runs or options.runs < 1 then
				io.stderr:write("invalid --runs value: ", tostring(value), "; expected a positive integer\n")
				os.exit(2)
			end
		elseif name == "--results" then
			options.results = value
		else
			io.stderr:write("unknown argument: ", tostring(name), "\n", USAGE, "\n")
			os.exit(2)
		end
		if value == nil then
			io.stderr:write("missing value for ", name, "\n", USAGE, "\n")
			os.exit(2)
		end
		i = i + 2
	end
	if not options.page or not options.small then
		io.stderr:write("--page and --small are required\n", USAGE, "\n")
		os.exit(2)
	end
	return options
end

local function read_file(path)
	local file, open_error = io.open(path, "rb")
	if not file then
		io.stderr:write("cannot read page: ", open_error, "; run make bench to generate it\n")
		os.exit(1)
	end
	local text = file:read("a")
	file:close()
	return text
end

-- Measurement -----------------------------------------------------------------

local function median(values)
	table.sort(values)
	local middle = (#values + 1) // 2
	if #values % 2 == 1 then
		return values[middle]
	end
	return (values[middle] + values[middle + 1]) / 2
end

-- Runs fn once to warm up and then `runs` times, each after a full collection
-- that also frees the previous run's result. Returns the median CPU seconds
-- and inspect(result of the last run), or that result itself without inspect,
-- so that callers can check a large result without keeping it alive.
local function measure(runs, fn, inspect)
	local last = {}
	collectgarbage("collect")
	last.result = fn()
	local seconds = {}
	for i = 1, runs do
		last.result = nil
		collectgarbage("collect")
		local start = os.clock()
		last.result = fn()
		seconds[i] = os.clock() - start
	end
	if inspect then
		return median(seconds), inspect(last.result)
	end
	return median(seconds), last.result
end

-- Measures several contenders with their runs interleaved (A B C A B C ...),
-- so that a change in machine load during the benchmark affects every
-- contender alike and their ratio stays meaningful. Each contender is
-- { fn, inspect } as for measure. Returns one { seconds, value } per contender,
-- where value is inspect(result of the last run), or that result without
-- inspect. No result outlives its own run, because a large live heap would
-- make the garbage collector slower for the contenders that run after it.
local function measure_interleaved(runs, contenders)
	local last = {}
	local seconds, values = {}, {}
	for index, contender in ipairs(contenders) do
		collectgarbage("collect")
		contender[1]()
		seconds[index] = {}
	end
	for run = 1, runs do
		for index, contender in ipairs(contenders) do
			last.result = nil
			collectgarbage("collect")
			local start = os.clock()
			last.result = contender[1]()
			seconds[index][run] = os.clock() - start
			if run == runs then
				local inspect = contender[2]
				values[index] = inspect and inspect(last.result) or last.result
			end
		end
	end
	last.result = nil
	local measured = {}
	for index = 1, #contenders do
		measured[index] = { median(seconds[index]), values[index] }
	end
	return table.unpack(measured)
end

-- Checksums -------------------------------------------------------------------

local FNV_OFFSET, FNV_PRIME = 0x811c9dc5, 0x01000193

local function fnv1a(hash, text)
	for i = 1, #text do
		hash = ((hash ~ text:byte(i)) * FNV_PRIME) & 0xffffffff
	end
	return ((hash ~ 10) * FNV_PRIME) & 0xffffffff
end

local COUNTERS = { "totalRetryCount", "filesProcessed", "bytesProcessed", "jobsInQueue" }

-- Counters that each msgraph-migration type has, by migration.type() name.
-- Reading a name the type lacks raises, so the checksum reads only these.
local COUNTERS_BY_TYPE = {
	MigrationJobProgressEvent = { "totalRetryCount", "filesProcessed", "bytesProcessed" },
	MigrationJobPostponedEvent = { "totalRetryCount", "jobsInQueue" },
	MigrationJobStartEvent = { "totalRetryCount" },
	MigrationJobCancelledEvent = { "totalRetryCount" },
	MigrationJobErrorEvent = { "totalRetryCount" },
	MigrationJobQueuedEvent = {},
	MigrationJobDeletedEvent = {},
	MigrationFinishManifestFileUploadEvent = {},
}

local function new_checksum()
	return { count = 0, id_hash = FNV_OFFSET, counter_sum = 0 }
end

local function add_to_checksum(sum, id, counter)
	if counter ~= nil then
		local integer = math.tointeger(counter)
		if not integer then
			error("counter is not an integer: " .. tostring(counter))
		end
		sum.counter_sum = sum.counter_sum + integer
	end
	if id then
		sum.count = sum.count + 1
		sum.id_hash = fnv1a(sum.id_hash, id)
	end
end

local function checksum_tables(events)
	local sum = new_checksum()
	for _, event in ipairs(events) do
		add_to_checksum(sum, event.id)
		for _, name in ipairs(COUNTERS) do
			add_to_checksum(sum, nil, event[name])
		end
	end
	return sum
end

local function checksum_ours(events)
	local sum = new_checksum()
	for _, event in ipairs(events) do
		add_to_checksum(sum, event.id)
		local counters = COUNTERS_BY_TYPE[migration.type(event)]
		if not counters then
			error("unexpected event type from msgraph.migration: " .. tostring(migration.type(event)))
		end
		for _, name in ipairs(counters) do
			add_to_checksum(sum, nil, event[name])
		end
	end
	return sum
end

local function checksum_text(sum)
	return string.format("%d events, id hash %08x, counter sum %d", sum.count, sum.id_hash, sum.counter_sum)
end

-- Stops the benchmark when a contender decoded different events.
local function check_same(label, expected, actual)
	if expected.count ~= actual.count or expected.id_hash ~= actual.id_hash or
		expected.counter_sum ~= actual.counter_sum then
		io.stderr:write(string.format("checksum mismatch for %s:\n  expected %s\n  got      %s\n", label,
			checksum_text(expected), checksum_text(actual)))
		os.exit(1)
	end
end

-- Memory ----------------------------------------------------------------------

-- Returns the resident set size of this process in KiB, from /proc.
local function rss_kib()
	local file = io.open("/proc/self/status", "r")
	if not file then
		return nil
	end
	local status = file:read("a")
	file:close()
	return tonumber(status:match("VmRSS:%s*(%d+)"))
end

-- Returns the Lua heap growth, in bytes, that keeping the result of fn()
-- costs, measured with collectgarbage("count") after full collections, and
-- the RSS growth in bytes. Memory that a C module allocates with malloc
-- instead of the Lua allocator shows only in the RSS figure.
local function retained_memory(fn)
	collectgarbage("collect")
	collectgarbage("collect")
	local heap_before = collectgarbage("count")
	local rss_before = rss_kib()
	local result = fn()
	collectgarbage("collect")
	collectgarbage("collect")
	local heap_after = collectgarbage("count")
	local rss_after = rss_kib()
	local rss_bytes = rss_before and rss_after and (rss_after - rss_before) * 1024
	return (heap_after - heap_before) * 1024, rss_bytes, result
end

local DECODERS = {
	cjson = function(text)
		return cjson.decode(text)
	end,
	ours = function(text)
		return { migration.decode_page(text) }
	end,
}

-- Child mode: decodes PAGE once with one decoder in a fresh process and prints
-- the heap and RSS growth in bytes. A fresh process is needed for RSS, because
-- the allocator keeps freed memory and reuses it for the next decode.
local function memory_probe(decoder, path)
	local file = assert(io.open(path, "rb"))
	local text = file:read("a")
	file:close()
	local heap, rss = retained_memory(function()
		return DECODERS[decoder](text)
	end)
	print(string.format("%d %d", math.floor(heap), rss or -1))
end

-- Runs memory_probe in a child process and returns its heap and RSS bytes.
local function probe_in_child(decoder, path)
	local interpreter = arg[-1] or "lua5.4"
	local command = string.format("%q %q --memory-probe %s %q", interpreter, arg[0], decoder, path)
	local child = assert(io.popen(command, "r"))
	local output = child:read("a")
	local ok = child:close()
	local heap, rss = output:match("^(%-?%d+) (%-?%d+)")
	if not ok or not heap then
		io.stderr:write("memory probe for ", decoder, " failed: ", output, "\n")
		os.exit(1)
	end
	return tonumber(heap), tonumber(rss)
end

-- Output ----------------------------------------------------------------------

local results = {}

local function record(key, value)
	results[#results + 1] = { key, value }
end

local function format_rate(rate)
	local text = string.format("%.0f", rate)
	return (text:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function print_rate(label, events, bytes, seconds)
	print(string.format("  %-34s %12s events/s %8.1f MB/s %9.3f ms", label, format_rate(events / seconds),
		bytes / 1e6 / seconds, seconds * 1000))
end

local function print_ratio(label, ratio, target)
	print(string.format("  %-52s %6.2fx   (target %s)", label, ratio, target))
end

-- Benchmarks ------------------------------------------------------------------

local function checksum_page_tables(page)
	return checksum_tables(page.value)
end

local function bench_decode(options, text)
	print(string.format("Decode: %.1f MB page", #text / 1e6))

	local cjson_run, ours_run, floor_run = measure_interleaved(options.runs, {
		{ function()
			return cjson.decode(text)
		end, checksum_page_tables },
		{ function()
			return migration.decode_page(text)
		end, checksum_ours },
		{ function()
			return yajl_floor.scan(text)
		end },
	})
	local cjson_seconds, expected = cjson_run[1], cjson_run[2]
	local ours_seconds, ours_sum = ours_run[1], ours_run[2]
	local floor_seconds, keys = floor_run[1], floor_run[2]
	local count = expected.count
	check_same("migration.decode_page", expected, ours_sum)

	print_rate("cjson.decode", count, #text, cjson_seconds)
	record("decode.cjson.events_per_s", count / cjson_seconds)
	print_rate("migration.decode_page", count, #text, ours_seconds)
	record("decode.ours.events_per_s", count / ours_seconds)
	print_rate("YAJL scan, empty callbacks", count, #text, floor_seconds)
	record("decode.floor.events_per_s", count / floor_seconds)
	record("decode.floor.keys", keys)

	-- dkjson decodes these pages about ten times slower than cjson, so it
	-- gets at most 3 runs.
	local dk_runs = math.min(options.runs, 3)
	local dk_seconds, dk_sum = measure(dk_runs, function()
		return dkjson_decode(text)
	end, checksum_page_tables)
	check_same("dkjson.decode", expected, dk_sum)
	print_rate(string.format("dkjson.decode (%d runs)", dk_runs), count, #text, dk_seconds)
	record("decode.dkjson.events_per_s", count / dk_seconds)

	local lpeg_seconds
	if dkjson_lpeg_decode then
		local lpeg_sum
		lpeg_seconds, lpeg_sum = measure(dk_runs, function()
			return dkjson_lpeg_decode(text)
		end, checksum_page_tables)
		check_same("dkjson.decode with LPeg", expected, lpeg_sum)
		print_rate(string.format("dkjson.decode, LPeg (%d runs)", dk_runs), count, #text, lpeg_seconds)
		record("decode.dkjson_lpeg.events_per_s", count / lpeg_seconds)
	end

	print_ratio("decode_page over cjson.decode", cjson_seconds / ours_seconds, ">= 3x")
	print_ratio("decode_page over dkjson.decode", dk_seconds / ours_seconds, "none")
	if lpeg_seconds then
		print_ratio("decode_page over dkjson.decode with LPeg", lpeg_seconds / ours_seconds, "none")
	end
	print_ratio("decode_page time over the YAJL scan time", ours_seconds / floor_seconds, "none, 1x is the floor")
	record("decode.ratio.cjson", cjson_seconds / ours_seconds)
	record("decode.ratio.floor_time", ours_seconds / floor_seconds)
	return expected
end

-- Returns the checksum and byte count of encoded events, which must decode
-- (with cjson, and with msgraph-migration when check_ours is set) to the
-- events of the page.
local function check_encoded(label, expected, encoded, check_ours)
	local joined = "[" .. table.concat(encoded, ",") .. "]"
	check_same(label .. " output", expected, checksum_tables(cjson.decode(joined)))
	if check_ours then
		check_same(label .. " output decoded again", expected,
			checksum_ours(migration.decode_page('{"value":' .. joined .. "}")))
	end
	return #joined - 2
end

local function bench_encode(options, text, expected)
	local count = expected.count
	print("Encode: every event of the page, one call per event")
	local tables = cjson.decode(text).value
	local events = migration.decode_page(text)

	local cjson_encode, encode = cjson.encode, migration.encode
	local cjson_run, ours_run = measure_interleaved(options.runs, {
		{ function()
			local output = {}
			for i = 1, #tables do
				output[i] = cjson_encode(tables[i])
			end
			return output
		end, function(output)
			return check_encoded("cjson.encode", expected, output, false)
		end },
		{ function()
			local output = {}
			for i = 1, #events do
				output[i] = encode(events[i])
			end
			return output
		end, function(output)
			return check_encoded("migration.encode", expected, output, true)
		end },
	})
	local cjson_seconds, cjson_bytes = cjson_run[1], cjson_run[2]
	local ours_seconds, ours_bytes = ours_run[1], ours_run[2]

	print_rate("cjson.encode", count, cjson_bytes, cjson_seconds)
	record("encode.cjson.events_per_s", count / cjson_seconds)
	print_rate("migration.encode", count, ours_bytes, ours_seconds)
	record("encode.ours.events_per_s", count / ours_seconds)

	print_ratio("migration.encode over cjson.encode", cjson_seconds / ours_seconds, ">= 3x")
	record("encode.ratio.cjson", cjson_seconds / ours_seconds)
end

local function bench_memory(options, text, expected)
	local count = expected.count
	print("Memory retained per decoded event, after a full collection")
	local cjson_heap = retained_memory(function()
		return DECODERS.cjson(text)
	end)
	local ours_heap = retained_memory(function()
		return DECODERS.ours(text)
	end)
	local _, cjson_rss = probe_in_child("cjson", options.page)
	local _, ours_rss = probe_in_child("ours", options.page)

	local function show(label, heap, rss)
		print(string.format("  %-34s %8.3f KB Lua heap %8.3f KB RSS (fresh process)", label, heap / 1024 / count,
			rss / 1024 / count))
	end
	show("cjson.decode tables", cjson_heap, cjson_rss)
	show("migration.decode_page userdata", ours_heap, ours_rss)
	record("memory.cjson.kb_per_event", cjson_heap / 1024 / count)
	record("memory.ours.kb_per_event", ours_heap / 1024 / count)
	record("memory.cjson.rss_kb_per_event", cjson_rss / 1024 / count)
	record("memory.ours.rss_kb_per_event", ours_rss / 1024 / count)
	print_ratio("msgraph-migration heap over cjson heap", ours_heap / cjson_heap, "<= 0.4x")
	print_ratio("msgraph-migration RSS over cjson RSS", ours_rss / cjson_rss, "none, cross-check")
	record("memory.ratio.cjson", ours_heap / cjson_heap)
	record("memory.ratio.cjson_rss", ours_rss / cjson_rss)
end

-- Event types that carry totalRetryCount, by migration.type() name and by
-- @odata.type, for the field-read and end-to-end loops.
local HAS_RETRY_COUNT = require("bench.common").types_with("totalRetryCount")

local function with_retry_count_ours(events)
	local selected = {}
	for _, event in ipairs(events) do
		if HAS_RETRY_COUNT[migration.type(event)] then
			selected[#selected + 1] = event
		end
	end
	return selected
end

local function with_retry_count_tables(events)
	local selected = {}
	for _, event in ipairs(events) do
		if event.totalRetryCount ~= nil then
			selected[#selected + 1] = event
		end
	end
	return selected
end

-- Reads jobId, eventDateTime and totalRetryCount from every event `passes`
-- times. The same loop serves userdata and tables. Lua compiles each read to a
-- GETFIELD whether or not the local is used, so nothing is optimized away.
local function read_fields(events, passes)
	for _ = 1, passes do
		for i = 1, #events do
			local event = events[i]
			local _, _, _ = event.jobId, event.eventDateTime, event.totalRetryCount
		end
	end
end

-- The same loop without the three reads, to subtract the loop's own cost.
local function read_nothing(events, passes)
	for _ = 1, passes do
		for i = 1, #events do
			local _ = events[i]
		end
	end
end

-- Stops the benchmark unless both lists contain the same values in the same order.
local function check_same_fields(label, tables, events)
	if #tables ~= #events then
		io.stderr:write(string.format("field reads on %s: %d tables but %d events carry totalRetryCount\n", label,
			#tables, #events))
		os.exit(1)
	end
	for i = 1, #events do
		local expected, actual = tables[i], events[i]
		if expected.jobId ~= actual.jobId or expected.eventDateTime ~= actual.eventDateTime or
			expected.totalRetryCount ~= actual.totalRetryCount then
			io.stderr:write(string.format("field reads on %s differ at event %d (id %s)\n", label, i, expected.id))
			os.exit(1)
		end
	end
end

local function bench_field_reads(options, label, text, passes)
	local tables = with_retry_count_tables(cjson.decode(text).value)
	local events = with_retry_count_ours(migration.decode_page(text))
	check_same_fields(label, tables, events)
	local reads = #events * 3 * passes
	print(string.format("Field reads, %s: %d events x 3 fields x %d passes", label, #events, passes))

	-- The cost of any read that Lua routes through a C __index function: empty
	-- tables whose __index is rawequal, which returns false at once. A typed
	-- userdata read cannot be cheaper than this call plus pushing the value.
	local metamethod = { __index = rawequal }
	local proxies = {}
	for i = 1, #events do
		proxies[i] = setmetatable({}, metamethod)
	end

	local loop_run, table_run, ours_run, metamethod_run = measure_interleaved(options.runs, {
		{ function()
			return read_nothing(events, passes)
		end },
		{ function()
			return read_fields(tables, passes)
		end },
		{ function()
			return read_fields(events, passes)
		end },
		{ function()
			return read_fields(proxies, passes)
		end },
	})
	local loop_seconds, table_seconds = loop_run[1], table_run[1]
	local ours_seconds, metamethod_seconds = ours_run[1], metamethod_run[1]

	local table_ns = (table_seconds - loop_seconds) / reads * 1e9
	local ours_ns = (ours_seconds - loop_seconds) / reads * 1e9
	local metamethod_ns = (metamethod_seconds - loop_seconds) / reads * 1e9
	print(string.format("  %-34s %8.1f ns per read (%.1f with the loop)", "plain table (cjson.decode)", table_ns,
		table_seconds / reads * 1e9))
	print(string.format("  %-34s %8.1f ns per read (%.1f with the loop)", "msgraph-migration userdata", ours_ns,
		ours_seconds / reads * 1e9))
	print(string.format("  %-34s %8.1f ns per read (%.1f with the loop)", "empty table, C __index (rawequal)",
		metamethod_ns, metamethod_seconds / reads * 1e9))
	-- The proxies are small tables allocated in a row, so they stay in cache
	-- even on the large page. There they are no floor for cache-missing reads.
	if label == "in cache" then
		print_ratio("C __index call time over table read time, net of loop", metamethod_ns / table_ns, "none, a floor")
	end
	print_ratio("userdata read time over table read time, net of loop", ours_ns / table_ns,
		label == "in cache" and "<= 3.5x" or "none")
	print_ratio("the same with the loop's cost included", ours_seconds / table_seconds, "none")
	local key = label == "in cache" and "read_cache" or "read_large"
	record(key .. ".table.ns", table_ns)
	record(key .. ".ours.ns", ours_ns)
	record(key .. ".metamethod.ns", metamethod_ns)
	record(key .. ".ratio.net", ours_ns / table_ns)
	record(key .. ".ratio.gross", ours_seconds / table_seconds)
end

local function bench_end_to_end(options, text, expected)
	local count = expected.count
	print("End to end: decode the page, then read jobId, eventDateTime and totalRetryCount where the type has it")
	local type_of = migration.type

	local function cjson_end_to_end()
		local events = cjson.decode(text).value
		local total = 0
		for i = 1, #events do
			local event = events[i]
			total = total + #event.jobId + #event.eventDateTime
			local retries = event.totalRetryCount
			if retries then
				total = total + retries
			end
		end
		return total
	end

	local function ours_end_to_end()
		local events = migration.decode_page(text)
		local total = 0
		for i = 1, #events do
			local event = events[i]
			total = total + #event.jobId + #event.eventDateTime
			if HAS_RETRY_COUNT[type_of(event)] then
				total = total + event.totalRetryCount
			end
		end
		return total
	end

	local cjson_run, ours_run = measure_interleaved(options.runs, { { cjson_end_to_end }, { ours_end_to_end } })
	local cjson_seconds, cjson_total = cjson_run[1], cjson_run[2]
	local ours_seconds, ours_total = ours_run[1], ours_run[2]
	if cjson_total ~= ours_total then
		io.stderr:write(string.format("end-to-end totals differ: cjson %s, msgraph-migration %s\n",
			tostring(cjson_total), tostring(ours_total)))
		os.exit(1)
	end

	print_rate("cjson.decode + reads", count, #text, cjson_seconds)
	print_rate("migration.decode_page + reads", count, #text, ours_seconds)
	print_ratio("msgraph-migration over cjson, end to end", cjson_seconds / ours_seconds, ">= 2.5x")
	record("end_to_end.cjson.events_per_s", count / cjson_seconds)
	record("end_to_end.ours.events_per_s", count / ours_seconds)
	record("end_to_end.ratio.cjson", cjson_seconds / ours_seconds)
end

local function write_results(path, expected)
	local file, open_error = io.open(path, "w")
	if not file then
		io.stderr:write("cannot write results: ", open_error, "\n")
		os.exit(1)
	end
	file:write(string.format("checksum.count=%d\nchecksum.id_hash=%d\nchecksum.counter_sum=%d\n", expected.count,
		expected.id_hash, expected.counter_sum))
	for _, entry in ipairs(results) do
		local value = entry[2]
		file:write(entry[1], "=", math.type(value) == "float" and string.format("%.6g", value) or tostring(value), "\n")
	end
	file:close()
end

-- Returns the 1-minute load average from /proc/loadavg, or "unknown". On a
-- 2-core machine a value above about 1 means another process competed for
-- the CPU during the run, and the timings are then unreliable.
local function load_average()
	local file = io.open("/proc/loadavg", "r")
	if not file then
		return "unknown"
	end
	local text = file:read("l")
	file:close()
	return text:match("^(%S+)") or "unknown"
end

local function main()
	if arg[1] == "--memory-probe" then
		memory_probe(arg[2], arg[3])
		return
	end
	local options = parse_arguments(arg)
	local text = read_file(options.page)
	local small = read_file(options.small)
	print(string.format("%s, lua-cjson %s, %s; median of %d runs after a warm-up, CPU time", _VERSION,
		cjson._VERSION, dkjson.version, options.runs))
	print("1-minute load average at the start: " .. load_average())

	local expected = bench_decode(options, text)
	print("  checksum: " .. checksum_text(expected))
	bench_encode(options, text, expected)
	bench_memory(options, text, expected)
	bench_field_reads(options, "in cache", small, 20000)
	bench_field_reads(options, "large page", text, 3)
	bench_end_to_end(options, text, expected)

	print("1-minute load average at the end: " .. load_average())
	if options.results then
		write_results(options.results, expected)
	end
end

main()
