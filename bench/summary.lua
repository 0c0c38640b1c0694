-- Print the benchmark targets next to the measured ratios.
--
--   lua5.4 bench/summary.lua LUA_RESULTS NODE_RESULTS
--
-- Reads the key=value files that bench/run.lua and bench/node/kiota-bench.mjs
-- wrote in the same make bench run. A missing file or key shows as "n/a".

local function read_results(path)
	local results = {}
	local file = path and io.open(path, "r")
	if not file then
		return results
	end
	for line in file:lines() do
		local key, value = line:match("^([%w_.]+)=(.*)$")
		if key then
			results[key] = tonumber(value) or value
		end
	end
	file:close()
	return results
end

local lua = read_results(arg[1])
local node = read_results(arg[2])

local function quotient(numerator, denominator)
	if type(numerator) ~= "number" or type(denominator) ~= "number" or denominator == 0 then
		return nil
	end
	return numerator / denominator
end

local decode_ours = lua["decode.ours.events_per_s"]

-- { what, measured ratio, comparison, target }
local rows = {
	{ "decode_page events/s over cjson.decode", lua["decode.ratio.cjson"], ">=", 3 },
	{ "encode events/s over cjson.encode", lua["encode.ratio.cjson"], ">=", 3 },
	{ "heap per decoded event over cjson tables", lua["memory.ratio.cjson"], "<=", 0.4 },
	{ "field read time over plain table, in cache", lua["read_cache.ratio.net"], "<=", 3.5 },
	{ "end to end events/s over cjson", lua["end_to_end.ratio.cjson"], ">=", 2.5 },
	{ "decode_page over Graph SDK parse, backing store", quotient(decode_ours, node["parse_backing_store.events_per_s"]),
		">=", 10 },
	{ "decode_page over Graph SDK parse, no backing store", quotient(decode_ours, node["parse_plain.events_per_s"]),
		">=", 10 },
}

print("Targets")
print(string.format("  %-52s %9s %9s  %s", "ratio", "measured", "target", "result"))
for _, row in ipairs(rows) do
	local label, ratio, comparison, target = row[1], row[2], row[3], row[4]
	local measured, verdict = "n/a", "not measured"
	if type(ratio) == "number" then
		measured = string.format("%.2fx", ratio)
		local met = (comparison == ">=" and ratio >= target) or (comparison == "<=" and ratio <= target)
		verdict = met and "met" or "MISSED"
	end
	print(string.format("  %-52s %9s %9s  %s", label, measured, comparison .. " " .. target .. "x", verdict))
end
