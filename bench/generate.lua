-- Generate a Microsoft Graph progressEvents page for the benchmarks.
--
--   lua5.4 bench/generate.lua [--events N | --bytes SIZE] [--seed S] OUT
--
-- The page is {"@odata.context": ..., "value": [events], "@odata.nextLink": ...}
-- in compact JSON. The same arguments always give the same bytes, because the
-- generator uses its own xorshift64* PRNG instead of math.random.
--
-- The mix follows how a migration job reports: mostly progress events, then
-- errors (with nested publicError objects that carry the unknown member
-- errorType and sometimes innerError/details), start, queued, postponed,
-- cancelled, manifest upload and deleted events. About one job in ten uses the
-- old beta type names (#microsoft.graph.migration...), the rest the current
-- ones (#microsoft.graph.sharePointMigration...). Some events carry a property
-- that no type declares, some strings are non-ASCII or contain JSON escapes,
-- Int64 counters reach 13 digits and timestamps have 3 or 7 fractional digits.

local M = {}

local DEFAULT_SEED = 20251120
local DEFAULT_EVENTS = 100000

-- xorshift64* (shifts 12, 25, 27 and Vigna's multiplier). Lua 5.4 integers
-- are 64-bit and wrap on overflow, and >> is a logical shift, so the sequence
-- is the same as with uint64_t arithmetic in C.
local function new_rng(seed)
	local state = seed ~ 0x9E3779B97F4A7C15
	if state == 0 then
		state = 1
	end
	local rng = {}

	function rng.next()
		state = state ~ (state >> 12)
		state = state ~ (state << 25)
		state = state ~ (state >> 27)
		return state * 0x2545F4914F6CDD1D
	end

	-- Returns an integer in [0, n), for 0 < n < 2^53.
	function rng.below(n)
		return (rng.next() >> 11) % n
	end

	-- Returns an integer in [low, high].
	function rng.range(low, high)
		return low + rng.below(high - low + 1)
	end

	function rng.chance(percent)
		return rng.below(100) < percent
	end

	function rng.pick(list)
		return list[rng.below(#list) + 1]
	end

	return rng
end

M.new_rng = new_rng

local HEX = "0123456789abcdef"

-- Builds a GUID-shaped string. The version and variant nibbles are random, as
-- in the service's own examples, so the ids are not RFC 4122 UUIDs.
local function guid(rng)
	local parts = {}
	for i = 1, 32 do
		local digit = rng.below(16) + 1
		parts[i] = HEX:sub(digit, digit)
	end
	local s = table.concat(parts)
	return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" .. s:sub(17, 20) .. "-" .. s:sub(21, 32)
end

-- Formats seconds since the epoch (UTC) as an ISO 8601 instant ending in Z,
-- with the given fractional digits (3 or 7).
local function timestamp(seconds, fraction, digits)
	local text = os.date("!%Y-%m-%dT%H:%M:%S", seconds)
	if digits == 3 then
		return string.format("%s.%03dZ", text, fraction // 10000)
	end
	return string.format("%s.%07dZ", text, fraction)
end

-- JSON string literal. The generator only emits strings it built itself, so
-- escaping quote, backslash and control characters is enough. Some strings
-- below already contain \uXXXX escapes on purpose: those go through raw().
local function quote(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		if c == '"' then
			return '\\"'
		elseif c == "\\" then
			return "\\\\"
		end
		return string.format("\\u%04x", c:byte())
	end) .. '"'
end

-- A JSON value written as given, for strings that already contain escapes.
local function raw(json_text)
	return { json = json_text }
end

-- Type names in the current (G2) and old beta (G1) spelling.
local TYPE_NAMES = {
	g2 = {
		queued = "#microsoft.graph.sharePointMigrationJobQueuedEvent",
		start = "#microsoft.graph.sharePointMigrationJobStartEvent",
		postponed = "#microsoft.graph.sharePointMigrationJobPostponedEvent",
		progress = "#microsoft.graph.sharePointMigrationJobProgressEvent",
		error = "#microsoft.graph.sharePointMigrationJobErrorEvent",
		cancelled = "#microsoft.graph.sharePointMigrationJobCancelledEvent",
		manifest = "#microsoft.graph.sharePointMigrationFinishManifestFileUploadEvent",
		deleted = "#microsoft.graph.sharePointMigrationJobDeletedEvent",
	},
	g1 = {
		queued = "#microsoft.graph.migrationJobQueuedEvent",
		start = "#microsoft.graph.migrationJobStartEvent",
		postponed = "#microsoft.graph.migrationJobPostponedEvent",
		progress = "#microsoft.graph.migrationJobProgressEvent",
		error = "#microsoft.graph.migrationJobErrorEvent",
		cancelled = "#microsoft.graph.migrationJobCancelledEvent",
		manifest = "#microsoft.graph.migrationFinishManifestFileUploadEvent",
		deleted = "#microsoft.graph.migrationJobDeletedEvent",
	},
}

M.TYPE_NAMES = TYPE_NAMES

-- Share of each kind among the events that follow a job's start, in percent.
local KIND_WEIGHTS = {
	{ "progress", 78 },
	{ "error", 10 },
	{ "postponed", 4 },
	{ "start", 3 },
	{ "queued", 2 },
	{ "manifest", 2 },
	{ "cancelled", 1 },
}

-- Events per job before it finishes (final progress, maybe cancelled, deleted).
local JOB_LENGTH_MIN, JOB_LENGTH_MAX = 20, 200

-- The service's own examples send some enum members in PascalCase
-- (FatalError, UnknownFutureValue) although the schema declares camelCase.
local ERROR_LEVELS = { "important", "warning", "warning", "error", "error", "fatalError", "FatalError" }
local OBJECT_TYPES = { "file", "file", "file", "listItem", "folder", "list", "web", "site", "alert",
	"sharedWithObject", "invalid", "unknownFutureValue", "UnknownFutureValue" }

local ERROR_SAMPLES = {
	{ "-2147024891", "System.UnauthorizedAccessException", "Access denied for the item's author mapping." },
	{ "-2147213196", "microsoft.SharePoint.SPException", "Operation canceled." },
	{ "-2130575338", "Microsoft.SharePoint.SPException", "The file is checked out for editing by another user." },
	{ "-2147024809", "System.ArgumentException", "Value does not fall within the expected range." },
	{ "-2146232832", "Microsoft.SharePoint.Client.ServerException", "Die Datei überschreitet die zulässige Größe." },
	{ "-2147467259", "System.Runtime.InteropServices.COMException", "ファイル名に使用できない文字が含まれています。" },
}

local REASONS = {
	"Database is busy; job re-queued",
	"Database is busy; job re-queued (Priorität: niedrig)",
	"Tenant throttled: too many concurrent migration jobs",
	"Service maintenance window",
	"Quota de stockage dépassé, nouvelle tentative planifiée",
}

local FOLDERS = { "Reports", "Shared Documents", "Finance/2025", "Résumés", "設計資料", "Archive/Q3 \u{1F4C4}",
	"Projects/Ærø" }
local FILE_STEMS = { "Budget", "Q3 résumé", "Minutes", "Plan d'action", "報告書", "Invoice", "Design \u{1F680}", "Notes" }
local FILE_EXTENSIONS = { ".docx", ".xlsx", ".pdf", ".pptx", ".txt", ".png" }

-- Appends one JSON member to parts. A value is a string (quoted here), an
-- integer, a boolean, or { json = ... } with text that is already JSON.
local function member(parts, name, value)
	local kind = math.type(value) or type(value)
	local encoded
	if kind == "string" then
		encoded = quote(value)
	elseif kind == "integer" or kind == "boolean" then
		encoded = tostring(value)
	elseif kind == "table" then
		encoded = value.json
	else
		error("unsupported member value for " .. name .. ": " .. kind)
	end
	parts[#parts + 1] = quote(name) .. ":" .. encoded
end

local function object(parts)
	return "{" .. table.concat(parts, ",") .. "}"
end

local function error_detail(rng)
	local sample = rng.pick(ERROR_SAMPLES)
	local parts = {}
	member(parts, "code", sample[1])
	member(parts, "message", sample[3])
	member(parts, "target", "item/" .. rng.below(100000))
	return object(parts)
end

-- A publicError with the unknown member errorType, sometimes with target,
-- details and innerError (which has its own details).
local function public_error(rng)
	local sample = rng.pick(ERROR_SAMPLES)
	local parts = {}
	member(parts, "code", sample[1])
	member(parts, "errorType", sample[2])
	if rng.chance(5) then
		-- A message with JSON escapes: quotes, a slash and a \u escape.
		member(parts, "message", raw('"Cannot open \\"' .. sample[1] .. '\\" at \\/sites\\/hr: caf\\u00e9 locked"'))
	else
		member(parts, "message", sample[3])
	end
	if rng.chance(20) then
		member(parts, "target", "objectUrl")
	end
	if rng.chance(15) then
		local details = {}
		for i = 1, rng.range(1, 3) do
			details[i] = error_detail(rng)
		end
		member(parts, "details", raw("[" .. table.concat(details, ",") .. "]"))
	end
	if rng.chance(20) then
		local inner = {}
		member(inner, "code", "0x" .. string.format("%08X", rng.below(0x100000000)))
		member(inner, "message", "Inner failure in the import pipeline")
		if rng.chance(50) then
			member(inner, "target", "manifest")
		end
		if rng.chance(40) then
			member(inner, "details", raw("[" .. error_detail(rng) .. "]"))
		end
		member(parts, "innerError", raw(object(inner)))
	end
	return object(parts)
end

local function object_url(rng, container)
	return "https://contoso.sharepoint.com/contentstorage/CSP_" .. container .. "/Document Library/" ..
		rng.pick(FOLDERS) .. "/" .. rng.pick(FILE_STEMS) .. " " .. rng.below(1000) .. rng.pick(FILE_EXTENSIONS)
end

-- A property that no event type declares, which a decoder keeps as
-- additional data. One event in about a hundred carries one.
local function add_unknown_property(parts, rng)
	local choice = rng.below(4)
	if choice == 0 then
		member(parts, "clientTag", "batch-" .. rng.below(1000))
	elseif choice == 1 then
		member(parts, "retryAfterSeconds", rng.range(1, 600))
	elseif choice == 2 then
		member(parts, "isFromLegacyAgent", rng.chance(50))
	else
		member(parts, "agentInfo", raw('{"name":"SPMT","version":"4.1.' .. rng.below(200) .. '.0","tags":["night",' ..
			rng.below(10) .. ']}'))
	end
end

-- Job state: ids, clock and counters that grow over the job's progress events.
local function new_job(rng, clock)
	local job = {
		id = guid(rng),
		correlation = guid(rng),
		container = guid(rng),
		generation = rng.chance(10) and "g1" or "g2",
		clock = clock,
		length = rng.range(JOB_LENGTH_MIN, JOB_LENGTH_MAX),
		emitted = 0,
		retries = 0,
		files = 0,
		objects = 0,
		bytes = 0,
		errors = 0,
		warnings = 0,
		duration = 0,
		expected_bytes = rng.range(1000000000, 9999999999999),
		expected_objects = rng.range(1000, 50000000),
		manifest = 0,
	}
	return job
end

local function header(rng, job, kind)
	-- The clock moves forward by up to two minutes between events.
	job.clock = job.clock + rng.below(120)
	local parts = {}
	member(parts, "@odata.type", TYPE_NAMES[job.generation][kind])
	member(parts, "id", guid(rng))
	member(parts, "jobId", job.id)
	member(parts, "eventDateTime", timestamp(job.clock, rng.below(10000000), rng.chance(70) and 3 or 7))
	member(parts, "correlationId", job.correlation)
	return parts
end

local BUILDERS = {}

function BUILDERS.queued(rng, job)
	return header(rng, job, "queued")
end

function BUILDERS.deleted(rng, job)
	return header(rng, job, "deleted")
end

function BUILDERS.manifest(rng, job)
	local parts = header(rng, job, "manifest")
	job.manifest = job.manifest + 1
	local name = string.format("Export_Manifest_%04d.xml", job.manifest)
	if rng.chance(10) then
		name = string.format("Lieferschein_Übersicht_%04d.xml", job.manifest)
	end
	member(parts, "manifestFileName", name)
	return parts
end

function BUILDERS.start(rng, job)
	local parts = header(rng, job, "start")
	member(parts, "isRestarted", job.emitted > 1)
	member(parts, "totalRetryCount", job.retries)
	return parts
end

function BUILDERS.postponed(rng, job)
	local parts = header(rng, job, "postponed")
	job.retries = job.retries + 1
	member(parts, "nextPickupDateTime", timestamp(job.clock + rng.range(60, 3600), rng.below(10000000),
		rng.chance(70) and 3 or 7))
	-- jobsInQueue is Int64, and a few values are above 2^32.
	member(parts, "jobsInQueue", rng.chance(3) and rng.range(1 << 32, 1 << 40) or rng.range(0, 5000))
	member(parts, "totalRetryCount", job.retries)
	member(parts, "reason", rng.pick(REASONS))
	return parts
end

function BUILDERS.cancelled(rng, job)
	local parts = header(rng, job, "cancelled")
	member(parts, "totalRetryCount", job.retries)
	member(parts, "isCancelledByUser", rng.chance(60))
	return parts
end

function BUILDERS.error(rng, job)
	local parts = header(rng, job, "error")
	local level = rng.pick(ERROR_LEVELS)
	if level == "warning" then
		job.warnings = job.warnings + 1
	else
		job.errors = job.errors + 1
	end
	member(parts, "errorLevel", level)
	member(parts, "totalRetryCount", job.retries)
	member(parts, "objectType", rng.pick(OBJECT_TYPES))
	-- The service leaves objectId and objectUrl out when it has no object.
	if rng.chance(80) then
		member(parts, "objectId", guid(rng))
		member(parts, "objectUrl", object_url(rng, job.container))
	end
	member(parts, "error", raw(public_error(rng)))
	return parts
end

function BUILDERS.progress(rng, job, completed)
	local parts = header(rng, job, "progress")
	local files = rng.range(0, 5000)
	job.files = job.files + files
	job.objects = job.objects + files + rng.range(0, 3000)
	job.bytes = math.min(job.bytes + files * rng.range(1000, 8000000), 9999999999999)
	job.duration = job.duration + rng.range(1000, 600000)
	member(parts, "isCompleted", completed == true)
	member(parts, "filesProcessed", job.files)
	member(parts, "bytesProcessed", job.bytes)
	member(parts, "objectsProcessed", job.objects)
	member(parts, "totalExpectedObjects", job.expected_objects)
	member(parts, "totalErrors", job.errors)
	member(parts, "totalWarnings", job.warnings)
	member(parts, "totalRetryCount", job.retries)
	member(parts, "waitTimeOnSqlThrottlingMs", rng.range(0, 90000))
	member(parts, "totalDurationMs", job.duration)
	member(parts, "cpuDurationMs", job.duration // rng.range(2, 6))
	member(parts, "sqlDurationMs", job.duration // rng.range(3, 9))
	member(parts, "sqlQueryCount", job.objects * rng.range(2, 20))
	member(parts, "totalExpectedBytes", job.expected_bytes)
	member(parts, "lastProcessedObjectId", guid(rng))
	member(parts, "filesProcessedOnlyCurrentVersion", job.files // 2 + rng.below(job.files // 2 + 1))
	member(parts, "bytesProcessedOnlyCurrentVersion", job.bytes // 2 + rng.below(job.bytes // 2 + 1))
	return parts
end

local function pick_kind(rng)
	local roll = rng.below(100)
	for _, entry in ipairs(KIND_WEIGHTS) do
		roll = roll - entry[2]
		if roll < 0 then
			return entry[1]
		end
	end
	return "progress"
end

-- Returns an iterator that yields one compact JSON event per call, forever.
-- A job begins with a queued or manifest upload event and a start event, and
-- ends with a completed progress event, then in 15% of jobs a cancelled event
-- and in half of them a deleted event.
function M.events(seed)
	local rng = new_rng(seed or DEFAULT_SEED)
	-- 2025-01-06T08:00:00Z
	local clock = 1736150400
	local job
	local pending = {}

	return function()
		if #pending == 0 then
			if not job then
				pending = { { "new job" } }
			elseif job.emitted >= job.length then
				pending = { { "progress", true } }
				if rng.chance(15) then
					pending[#pending + 1] = { "cancelled" }
				end
				if rng.chance(50) then
					pending[#pending + 1] = { "deleted" }
				end
				pending[#pending + 1] = { "new job" }
			else
				pending = { { pick_kind(rng) } }
			end
		end

		local step = table.remove(pending, 1)
		if step[1] == "new job" then
			job = new_job(rng, job and job.clock or clock)
			if rng.chance(50) then
				pending[#pending + 1] = { "start" }
				step = { "manifest" }
			else
				step = { "queued" }
				pending[#pending + 1] = { "start" }
			end
		end

		local parts = BUILDERS[step[1]](rng, job, step[2])
		if rng.chance(1) then
			add_unknown_property(parts, rng)
		end
		job.emitted = job.emitted + 1
		return object(parts)
	end
end

-- Writes a page to file handle out. Stops after `events` events, or once the
-- value array has reached `bytes` bytes when events is nil.
-- Returns the number of events written.
function M.write_page(out, options)
	local next_event = M.events(options.seed)
	local events_limit = options.events
	local bytes_limit = options.bytes
	local context = "https://graph.microsoft.com/v1.0/$metadata#storage/fileStorage/containers" ..
		"('b%21Qm9n-ZmFrZUNvbnRhaW5lcklkMDAx_XyZ')/migrationJobs('5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60')/progressEvents"

	out:write('{"@odata.context":', quote(context), ',"value":[')
	local buffer = {}
	local written = 0
	local size = 0
	local separator = ""

	local function flush()
		out:write(separator, table.concat(buffer, ","))
		separator = ","
		buffer = {}
	end

	while (events_limit and written < events_limit) or (not events_limit and size < bytes_limit) do
		local event = next_event()
		written = written + 1
		size = size + #event + 1
		buffer[#buffer + 1] = event
		if #buffer == 1000 then
			flush()
		end
	end
	if #buffer > 0 then
		flush()
	end
	out:write('],"@odata.nextLink":', quote("https://graph.microsoft.com/v1.0/storage/fileStorage/containers/" ..
		"b!Qm9n-ZmFrZUNvbnRhaW5lcklkMDAx_XyZ/migrationJobs/5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60/progressEvents" ..
		"?$skiptoken=" .. written), "}")
	return written
end

-- Parses a size such as 1000000, 512K, 64M or 1G (powers of 1024).
local function parse_size(text)
	local number, suffix = text:match("^(%d+)([KMG]?)$")
	if not number then
		return nil
	end
	local scale = { [""] = 1, K = 1024, M = 1024 ^ 2, G = 1024 ^ 3 }
	return math.tointeger(tonumber(number) * scale[suffix])
end

local USAGE = [[
usage: lua5.4 bench/generate.lua [--events N | --bytes SIZE] [--seed S] OUT
  --events N    number of events in the page (default 100000)
  --bytes SIZE  write events until the value array reaches SIZE bytes
                (suffix K, M or G for powers of 1024), instead of --events
  --seed S      PRNG seed, an integer (default 20251120)
  OUT           output file; the same arguments always write the same bytes]]

local function main(args)
	local options = { seed = DEFAULT_SEED }
	local output
	local i = 1
	while i <= #args do
		local name = args[i]
		local value = args[i + 1]
		if name == "--events" then
			options.events = math.tointeger(tonumber(value))
			if not options.events or options.events < 0 then
				io.stderr:write("invalid --events value: ", tostring(value), "; expected a non-negative integer\n")
				os.exit(2)
			end
			i = i + 2
		elseif name == "--bytes" then
			options.bytes = value and parse_size(value)
			if not options.bytes then
				io.stderr:write("invalid --bytes value: ", tostring(value), "; expected an integer with K, M or G\n")
				os.exit(2)
			end
			i = i + 2
		elseif name == "--seed" then
			options.seed = math.tointeger(tonumber(value))
			if not options.seed then
				io.stderr:write("invalid --seed value: ", tostring(value), "; expected an integer\n")
				os.exit(2)
			end
			i = i + 2
		elseif name == "-h" or name == "--help" then
			print(USAGE)
			os.exit(0)
		elseif output == nil and name:sub(1, 2) ~= "--" then
			output = name
			i = i + 1
		else
			io.stderr:write("unknown argument: ", name, "\n", USAGE, "\n")
			os.exit(2)
		end
	end
	if not output then
		io.stderr:write("missing output file\n", USAGE, "\n")
		os.exit(2)
	end
	if options.events and options.bytes then
		io.stderr:write("--events and --bytes are exclusive; give one of them\n")
		os.exit(2)
	end
	if not options.bytes then
		options.events = options.events or DEFAULT_EVENTS
	end

	local out, open_error = io.open(output, "wb")
	if not out then
		io.stderr:write("cannot open output file: ", open_error, "\n")
		os.exit(1)
	end
	local count = M.write_page(out, options)
	assert(out:close())
	io.stderr:write(string.format("generate: wrote %d events to %s\n", count, output))
end

-- Run as a script unless another chunk required this file as a module.
-- At the main chunk there is no caller four levels up, so getlocal fails.
if not pcall(debug.getlocal, 4, 1) then
	main(arg)
end

return M
