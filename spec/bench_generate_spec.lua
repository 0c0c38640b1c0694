-- bench/generate.lua must write the same bytes for the same arguments, and
-- every event it writes must decode, because the benchmarks compare decoders
-- on its pages.

local cjson = require "cjson"
local migration = require "msgraph.migration"

local LUA = "lua5.4"

local function read_file(path)
	local file = assert(io.open(path, "rb"))
	local text = file:read("a")
	file:close()
	return text
end

-- Runs the generator with the given argument string and returns the page text.
local function generate(arguments)
	local output = os.tmpname()
	local command = string.format("%s bench/generate.lua %s %s 2>/dev/null", LUA, arguments, output)
	local ok = os.execute(command)
	assert(ok, "generator failed: " .. command)
	local text = read_file(output)
	os.remove(output)
	return text
end

describe("bench/generate.lua", function()
	local page

	setup(function()
		page = generate("--events 3000")
	end)

	it("writes identical bytes on every run", function()
		assert.are.equal(page, generate("--events 3000"))
	end)

	it("writes other bytes for another seed", function()
		assert.are_not.equal(page, generate("--events 3000 --seed 99"))
	end)

	it("writes the requested number of events", function()
		local decoded = cjson.decode(page)
		assert.are.equal(3000, #decoded.value)
		assert.is_string(decoded["@odata.context"])
		assert.is_string(decoded["@odata.nextLink"])
	end)

	it("writes at least --bytes of events", function()
		local text = generate("--bytes 64K")
		assert.is_true(#text >= 64 * 1024)
		assert.is_true(#cjson.decode(text).value > 0)
	end)

	it("writes pages that decode_page accepts whole", function()
		local events, next_link = migration.decode_page(page)
		assert.are.equal(3000, #events)
		assert.are.equal(cjson.decode(page)["@odata.nextLink"], next_link)
		for index, event in ipairs(events) do
			assert.is_string(migration.type(event), "event " .. index .. " has no type")
		end
	end)

	it("writes events that decode one at a time", function()
		for index, event in ipairs(cjson.decode(page).value) do
			local decoded = migration.decode(cjson.encode(event))
			assert.are.equal(event.id, decoded.id, "event " .. index)
		end
	end)

	it("writes every event type in both generations", function()
		-- One job in ten uses the old names, so 3000 events may lack a type.
		local seen = {}
		for _, event in ipairs(cjson.decode(generate("--events 20000")).value) do
			seen[event["@odata.type"]] = true
		end
		for _, names in pairs({ "sharePointMigration", "migration" }) do
			for _, kind in ipairs({ "JobQueuedEvent", "JobStartEvent", "JobPostponedEvent", "JobProgressEvent",
				"JobErrorEvent", "JobCancelledEvent", "FinishManifestFileUploadEvent", "JobDeletedEvent" }) do
				local name = "#microsoft.graph." .. names .. kind
				assert.is_true(seen[name] == true, name .. " missing")
			end
		end
	end)

	it("writes the hard cases the benchmarks rely on", function()
		assert.is_truthy(page:find('"bytesProcessed":%d%d%d%d%d%d%d%d%d%d%d%d%d[,}]'), "no 13-digit counter")
		assert.is_truthy(page:find('"eventDateTime":"[^"]+%.%d%d%dZ"'), "no 3-digit fraction")
		assert.is_truthy(page:find('"eventDateTime":"[^"]+%.%d%d%d%d%d%d%dZ"'), "no 7-digit fraction")
		assert.is_truthy(page:find("[\xc3-\xf4][\x80-\xbf]"), "no non-ASCII text")
		assert.is_truthy(page:find('"errorType":'), "no unknown member in error")
		assert.is_truthy(page:find('"innerError":'), "no innerError")
		assert.is_truthy(page:find('"details":%['), "no details")
		assert.is_truthy(page:find("\\u00e9", 1, true), "no \\u escape")
		assert.is_truthy(page:find('"agentInfo":') or page:find('"clientTag":'), "no unknown property")
	end)
end)
