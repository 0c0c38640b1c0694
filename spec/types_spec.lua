-- luacheck: max line length 150
local migration = require "msgraph.migration"

local CANCELLED = [[{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent",
  "id":"70a25398-e2bb-0495-d188-c36f52413d78","jobId":"5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60",
  "eventDateTime":"2025-11-20T14:31:44.517Z","correlationId":"9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
  "totalRetryCount":2,"isCancelledByUser":false}]]

describe("msgraph.migration types", function()
  local event

  before_each(function()
    event = migration.decode(CANCELLED)
  end)

  describe("accessors", function()
    it("return Graph values with Lua types", function()
      assert.are.equal("70a25398-e2bb-0495-d188-c36f52413d78", event.id)
      assert.are.equal("5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60", event.jobId)
      assert.are.equal("9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b", event.correlationId)
      assert.are.equal("2025-11-20T14:31:44.517Z", event.eventDateTime)
      assert.are.equal(false, event.isCancelledByUser)
      assert.are.equal(2, event.totalRetryCount)
      assert.are.equal("integer", math.type(event.totalRetryCount))
    end)

    it("return nil for absent and null properties", function()
      local e = migration.decode([[{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","id":null}]])
      assert.is_nil(e.id)
      assert.is_nil(e.totalRetryCount)
      assert.are.equal('{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","id":null}', e:to_json())
    end)

    it("get returns nil where an accessor raises", function()
      local queued = migration.decode([[{"@odata.type":"#microsoft.graph.migrationJobQueuedEvent","id":null}]])
      assert.is_nil(migration.get(queued, "totalRetryCount"))
      assert.is_nil(migration.get(queued, "id"))
      assert.are.equal(2, migration.get(event, "totalRetryCount"))
      assert.are.equal("2025-11-20T14:31:44.517Z", migration.get(event, "eventDateTime"))
      assert.has_error(function() migration.get({}, "id") end,
        "bad argument #1 to 'get' (msgraph.migration object expected, got table)")
      assert.has_error(function() migration.get(event, {}) end,
        "bad argument #2 to 'get' (string expected, got table)")
    end)

    it("raise for a name the type lacks", function()
      assert.has_error(function() return event.nope end,
        "msgraph.migration.MigrationJobCancelledEvent has no field 'nope'")
      local queued = migration.decode([[{"@odata.type":"#microsoft.graph.migrationJobQueuedEvent"}]])
      assert.has_error(function() return queued.totalRetryCount end,
        "msgraph.migration.MigrationJobQueuedEvent has no field 'totalRetryCount'")
    end)

    it("cover every property of every type with its kind", function()
      local kinds = {
        MigrationFinishManifestFileUploadEvent = { manifestFileName = "string" },
        MigrationJobQueuedEvent = {},
        MigrationJobDeletedEvent = {},
        MigrationJobStartEvent = { isRestarted = "boolean", totalRetryCount = "integer" },
        MigrationJobPostponedEvent = { jobsInQueue = "integer", nextPickupDateTime = "string",
          reason = "string", totalRetryCount = "integer" },
        MigrationJobCancelledEvent = { isCancelledByUser = "boolean", totalRetryCount = "integer" },
        MigrationJobErrorEvent = { error = "userdata", errorLevel = "string", objectId = "string",
          objectType = "string", objectUrl = "string", totalRetryCount = "integer" },
        MigrationJobProgressEvent = { isCompleted = "boolean", lastProcessedObjectId = "string",
          totalRetryCount = "integer" },
      }
      for _, name in ipairs({ "bytesProcessed", "bytesProcessedOnlyCurrentVersion", "cpuDurationMs",
        "filesProcessed", "filesProcessedOnlyCurrentVersion", "objectsProcessed", "sqlDurationMs",
        "sqlQueryCount", "totalDurationMs", "totalErrors", "totalExpectedBytes", "totalExpectedObjects",
        "totalWarnings", "waitTimeOnSqlThrottlingMs" }) do
        kinds.MigrationJobProgressEvent[name] = "integer"
      end

      local page = migration.decode_page(io.open("spec/fixtures/all-types.json"):read("a"))
      local seen = {}
      for _, e in ipairs(page) do
        local expected = kinds[migration.type(e)]
        if expected then
          seen[migration.type(e)] = true
          local fields = migration[migration.type(e)].fields
          local own = 0
          for _ in pairs(expected) do own = own + 1 end
          assert.are.equal(4 + own, #fields)
          for name, kind in pairs(expected) do
            local value = e[name]
            seen[migration.type(e) .. "." .. name] = value ~= nil or seen[migration.type(e) .. "." .. name]
            -- A null in this event is fine: another event of the type has a value.
            if value ~= nil and kind == "integer" then
              assert.are.equal("integer", math.type(value), name)
            elseif value ~= nil then
              assert.are.equal(kind, type(value), name)
            end
          end
        end
      end
      for name, fields in pairs(kinds) do
        assert.is_true(seen[name], name)
        for field in pairs(fields) do
          assert.is_true(seen[name .. "." .. field], name .. "." .. field)
        end
      end
    end)
  end)

  describe("inheritance", function()
    it("is_a accepts the type and its bases", function()
      assert.is_true(migration.is_a(event, migration.MigrationJobCancelledEvent))
      assert.is_true(migration.is_a(event, migration.MigrationEvent))
      assert.is_true(migration.is_a(event, migration.Entity))
      assert.is_true(migration.is_a(event, "Entity"))
      assert.is_false(migration.is_a(event, migration.MigrationJobStartEvent))
      assert.is_false(migration.is_a(event, migration.PublicError))
      assert.is_false(migration.is_a({}, migration.Entity))
      assert.is_false(migration.is_a(nil, migration.Entity))
    end)

    it("is_a rejects what is not a type", function()
      assert.has_error(function() migration.is_a(event, "Nope") end,
        "bad argument #2 to 'is_a' (unknown type 'Nope')")
      assert.has_error(function() migration.is_a(event, 5) end,
        "bad argument #2 to 'is_a' (type table or type name expected, got number)")
    end)

    it("type returns the type name or nil", function()
      assert.are.equal("MigrationJobCancelledEvent", migration.type(event))
      assert.is_nil(migration.type({}))
      assert.is_nil(migration.type("x"))
      assert.is_nil(migration.type(io.stdout))
    end)

    it("a subtype answers the base accessors and methods", function()
      assert.are.equal(migration.MigrationEvent, migration.MigrationJobCancelledEvent.base)
      assert.are.equal(migration.Entity, migration.MigrationEvent.base)
      assert.are.equal(event.id, event.id)
      assert.is_function(event.to_json)
      assert.is_function(event.odata_type)
      assert.are.equal("#microsoft.graph.migrationJobCancelledEvent", event:odata_type())
    end)

    it("methods check their receiver", function()
      assert.has_error(function() event.to_json("x") end,
        "bad argument #1 to 'to_json' (msgraph.migration object expected, got string)")
      assert.has_error(function() event.odata_type() end,
        "bad argument #1 to 'odata_type' (msgraph.migration.Entity expected, got no value)")
      local err = migration.decode([[{"@odata.type":"#microsoft.graph.migrationJobErrorEvent","error":{"code":"1"}}]]).error
      assert.has_error(function() event.odata_type(err) end,
        "bad argument #1 to 'odata_type' (msgraph.migration.Entity expected, got msgraph.migration.PublicError)")
      assert.has_error(function() migration.encode({}) end,
        "bad argument #1 to 'encode' (msgraph.migration object expected, got table)")
    end)
  end)

  describe("immutability", function()
    it("rejects assignment to a field", function()
      assert.has_error(function() event.id = "x" end,
        "attempt to modify read-only field 'id' of msgraph.migration.MigrationJobCancelledEvent")
    end)

    it("rejects new fields", function()
      assert.has_error(function() event.note = "x" end,
        "attempt to add field 'note' to read-only msgraph.migration.MigrationJobCancelledEvent")
    end)

    it("hides the metatable", function()
      assert.are.equal("msgraph.migration.MigrationJobCancelledEvent", getmetatable(event))
      assert.has_error(function() setmetatable(event, {}) end)
    end)

    it("returns copies of nested lists", function()
      local e = migration.decode([[{"@odata.type":"#microsoft.graph.migrationJobErrorEvent",
        "error":{"code":"1","details":[{"code":"a"}]}}]])
      local details = e.error.details
      details[1] = nil
      assert.are.equal("a", e.error.details[1].code)
    end)
  end)

  describe("metamethods", function()
    it("tostring shows the type and id", function()
      assert.are.equal("msgraph.migration.MigrationJobCancelledEvent(id=70a25398-e2bb-0495-d188-c36f52413d78)",
        tostring(event))
      assert.are.equal("msgraph.migration.MigrationEvent(id=nil)", tostring(migration.decode("{}")))
    end)

    it("== compares type and values", function()
      assert.is_true(event == migration.decode(CANCELLED))
      local reordered = migration.decode([[{"totalRetryCount":2,"isCancelledByUser":false,
        "id":"70a25398-e2bb-0495-d188-c36f52413d78","jobId":"5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60",
        "eventDateTime":"2025-11-20T14:31:44.517Z","correlationId":"9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        "@odata.type":"#microsoft.graph.sharePointMigrationJobCancelledEvent"}]])
      assert.is_true(event == reordered)
      assert.is_false(event == migration.decode(CANCELLED:gsub('"totalRetryCount":2', '"totalRetryCount":3')))
      assert.is_false(event == migration.decode(CANCELLED:gsub('migrationJobCancelledEvent', 'migrationJobStartEvent')))
    end)

    it("== matches enums without regard to case", function()
      local function level(text)
        return migration.decode('{"@odata.type":"#microsoft.graph.migrationJobErrorEvent","errorLevel":"' .. text .. '"}')
      end
      assert.is_true(level("ERROR") == level("error"))
      assert.is_false(level("error") == level("warning"))
      assert.is_false(level("someday") == level("never"))
    end)

    it("== is false for other values, never an error", function()
      assert.is_false(event == {})
      assert.is_false(event == io.stdout)
      assert.is_false(event == "x")
    end)
  end)

  describe("new", function()
    it("builds an event in schema order with the first spelling", function()
      local e = migration.MigrationJobCancelledEvent.new{
        totalRetryCount = 1, isCancelledByUser = true, id = "c1", jobId = "j1",
        eventDateTime = "2026-01-02T03:04:05Z",
      }
      assert.are.equal('{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","id":"c1","jobId":"j1",'
        .. '"eventDateTime":"2026-01-02T03:04:05Z","isCancelledByUser":true,"totalRetryCount":1}', e:to_json())
      assert.is_true(e == migration.decode(e:to_json()))
    end)

    it("takes another spelling, null and nested objects", function()
      local e = migration.MigrationJobErrorEvent.new{
        ["@odata.type"] = "#microsoft.graph.sharePointMigrationJobErrorEvent",
        objectId = migration.null,
        errorLevel = "warning",
        error = { code = "-1", details = { { code = "d" } }, innerError = { code = "i" } },
        totalRetryCount = 4.0,
      }
      assert.are.equal('{"@odata.type":"#microsoft.graph.sharePointMigrationJobErrorEvent",'
        .. '"error":{"code":"-1","details":[{"code":"d"}],"innerError":{"code":"i"}},'
        .. '"errorLevel":"warning","objectId":null,"totalRetryCount":4}', e:to_json())
      assert.are.equal("PublicError", migration.type(e.error))
    end)

    local cases = {
      { "unknown key", "MigrationJobCancelledEvent", { foo = 1 },
        "bad property 'foo' to 'MigrationJobCancelledEvent.new' (MigrationJobCancelledEvent has no such property)" },
      { "Int32 overflow", "MigrationJobCancelledEvent", { totalRetryCount = 2147483648 },
        "bad property 'totalRetryCount' to 'MigrationJobCancelledEvent.new' (expected Int32, got 2147483648)" },
      { "Int32 fraction", "MigrationJobCancelledEvent", { totalRetryCount = 1.5 },
        "bad property 'totalRetryCount' to 'MigrationJobCancelledEvent.new' (expected Int32, got 1.5)" },
      { "string for Int64", "MigrationJobProgressEvent", { bytesProcessed = "12" },
        "bad property 'bytesProcessed' to 'MigrationJobProgressEvent.new' (expected Int64, got string \"12\")" },
      { "Int64 beyond range", "MigrationJobProgressEvent", { bytesProcessed = 2 ^ 63 },
        "bad property 'bytesProcessed' to 'MigrationJobProgressEvent.new' (expected Int64, got 9.2233720368548e+18)" },
      { "number for String", "MigrationJobCancelledEvent", { id = 5 },
        "bad property 'id' to 'MigrationJobCancelledEvent.new' (expected String, got 5)" },
      { "string for Boolean", "MigrationJobCancelledEvent", { isCancelledByUser = "true" },
        "bad property 'isCancelledByUser' to 'MigrationJobCancelledEvent.new' (expected Boolean, got string \"true\")" },
      { "impossible date", "MigrationJobCancelledEvent", { eventDateTime = "2025-02-30T00:00:00Z" },
        "bad property 'eventDateTime' to 'MigrationJobCancelledEvent.new' (expected DateTimeOffset, got string \"2025-02-30T00:00:00Z\")" },
      { "foreign spelling", "MigrationJobCancelledEvent", { ["@odata.type"] = "#microsoft.graph.migrationJobStartEvent" },
        "bad property '@odata.type' to 'MigrationJobCancelledEvent.new' (expected one of "
        .. "\"#microsoft.graph.migrationJobCancelledEvent\", \"#microsoft.graph.sharepointMigrationJobCancelledEvent\", "
        .. "\"#microsoft.graph.sharePointMigrationJobCancelledEvent\")" },
      { "nested wrong type", "MigrationJobErrorEvent", { error = { code = 7 } },
        "bad property 'error.code' to 'PublicError.new' (expected String, got 7)" },
      { "nested list item", "MigrationJobErrorEvent", { error = { details = { "x" } } },
        "bad property 'error.details[0]' to 'PublicError.new' (expected msgraph.migration.PublicErrorDetail, got string \"x\")" },
      { "invalid UTF-8", "MigrationJobCancelledEvent", { id = "\255\254" },
        "bad property 'id' to 'MigrationJobCancelledEvent.new' (expected UTF-8 text, got string \"\255\254\")" },
      { "non-string key", "MigrationJobCancelledEvent", { [1] = true },
        "bad property 1 to 'MigrationJobCancelledEvent.new' (property names are strings)" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. case[1], function()
        assert.has_error(function() migration[case[2]].new(case[3]) end, case[4])
      end)
    end

    it("rejects a non-table argument", function()
      assert.has_error(function() migration.MigrationJobCancelledEvent.new("x") end,
        "bad argument #1 to 'new' (table expected, got string)")
    end)

    it("is absent on the abstract Entity", function()
      assert.is_nil(migration.Entity.new)
    end)
  end)

  describe("spellings", function()
    for _, prefix in ipairs({ "migration", "sharepointMigration", "sharePointMigration" }) do
      it("decodes " .. prefix .. " names", function()
        for _, suffix in ipairs({ "JobCancelledEvent", "JobQueuedEvent", "JobDeletedEvent", "JobStartEvent",
          "JobPostponedEvent", "JobProgressEvent", "JobErrorEvent", "FinishManifestFileUploadEvent" }) do
          local name = "#microsoft.graph." .. prefix .. suffix
          local e = migration.decode('{"@odata.type":"' .. name .. '"}')
          local expected = suffix:find("^Finish") and "Migration" .. suffix or "Migration" .. suffix
          assert.are.equal(expected, migration.type(e))
          assert.are.equal(name, e:odata_type())
          assert.are.equal('{"@odata.type":"' .. name .. '"}', e:to_json())
        end
        local base = migration.decode('{"@odata.type":"#microsoft.graph.' .. prefix .. 'Event"}')
        assert.are.equal("MigrationEvent", migration.type(base))
      end)
    end

    it("keeps an unmodeled type as MigrationEvent", function()
      local e = migration.decode('{"@odata.type":"#microsoft.graph.sharePointMigrationJobPausedEvent","id":"p","pausedBy":"x"}')
      assert.are.equal("MigrationEvent", migration.type(e))
      assert.are.equal("#microsoft.graph.sharePointMigrationJobPausedEvent", e:odata_type())
      assert.are.same({ pausedBy = "x" }, e:additional_data())
    end)

    it("matches other casing but writes it back as it came", function()
      local e = migration.decode('{"@odata.type":"#Microsoft.Graph.SharePointMigrationJobCancelledEvent","isCancelledByUser":true}')
      assert.are.equal("MigrationJobCancelledEvent", migration.type(e))
      assert.is_true(e.isCancelledByUser)
      assert.are.equal("#Microsoft.Graph.SharePointMigrationJobCancelledEvent", e:odata_type())
    end)

    it("decodes a missing @odata.type as MigrationEvent, keeping subtype properties", function()
      local e = migration.decode('{"id":"x","isCancelledByUser":true,"totalRetryCount":1}')
      assert.are.equal("MigrationEvent", migration.type(e))
      assert.is_nil(e:odata_type())
      assert.are.same({ isCancelledByUser = true, totalRetryCount = 1 }, e:additional_data())
      assert.are.equal('{"id":"x","isCancelledByUser":true,"totalRetryCount":1}', e:to_json())
    end)
  end)

  describe("GUID-shaped strings", function()
    for _, id in ipairs({
      "0f3a9c21-7b44-0d2e-6a11-5c9e8b7a6d01",    -- canonical: stored packed
      "0F3A9C21-7B44-0D2E-6A11-5C9E8B7A6D01",    -- upper case: stored as text
      "0f3a9c21-7b44-0d2e-6a11-5c9e8b7a6d0g",    -- not hex
      "0f3a9c217b440d2e6a115c9e8b7a6d01",        -- no hyphens
      "{0f3a9c21-7b44-0d2e-6a11-5c9e8b7a6d01}",  -- braces
    }) do
      it("keep their text: " .. id, function()
        local text = '{"id":"' .. id .. '","jobId":"' .. id .. '"}'
        local decoded = migration.decode(text)
        assert.are.equal(id, decoded.id)
        assert.are.equal(id, decoded.jobId)
        assert.are.equal(text, decoded:to_json())
        assert.is_true(decoded == migration.decode(text))
        assert.are.equal(id, decoded:to_table().id)
        assert.are.equal(id, migration.MigrationEvent.new{ id = id }.id)
      end)
    end

    it("compare by text", function()
      local lower = migration.decode('{"id":"0f3a9c21-7b44-0d2e-6a11-5c9e8b7a6d01"}')
      local upper = migration.decode('{"id":"0F3A9C21-7B44-0D2E-6A11-5C9E8B7A6D01"}')
      assert.is_false(lower == upper)
      assert.is_true(lower == migration.MigrationEvent.new{ id = "0f3a9c21-7b44-0d2e-6a11-5c9e8b7a6d01" })
    end)
  end)

  describe("Int64", function()
    local function progress(value)
      return migration.decode('{"@odata.type":"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":' .. value .. '}')
    end

    it("is exact at both limits and past 2^53", function()
      assert.are.equal(math.maxinteger, progress("9223372036854775807").bytesProcessed)
      assert.are.equal(math.mininteger, progress("-9223372036854775808").bytesProcessed)
      assert.are.equal(9007199254740993, progress("9007199254740993").bytesProcessed)
      assert.are.equal("integer", math.type(progress("9007199254740993").bytesProcessed))
      assert.matches('"bytesProcessed":9007199254740993}$', progress("9007199254740993"):to_json())
    end)

    it("accepts a numeric string and writes it back quoted", function()
      local e = progress('"-9223372036854775808"')
      assert.are.equal(math.mininteger, e.bytesProcessed)
      assert.matches('"bytesProcessed":"%-9223372036854775808"}$', e:to_json())
      assert.is_true(e == progress("-9223372036854775808"))
    end)
  end)

  describe("enums", function()
    local function error_event(level, object_type)
      return migration.decode('{"@odata.type":"#microsoft.graph.migrationJobErrorEvent","errorLevel":"' .. level
        .. '","objectType":"' .. object_type .. '"}')
    end

    for _, case in ipairs({
      { "fatalError", "listItem", "fatalError", "listItem" },
      { "FatalError", "ListItem", "fatalError", "listItem" },
      { "WARNING", "sharedwithobject", "warning", "sharedWithObject" },
      { "UnknownFutureValue", "UnknownFutureValue", "unknownFutureValue", "unknownFutureValue" },
      { "catastrophic", "hologram", "unknownFutureValue", "unknownFutureValue" },
    }) do
      it("reads " .. case[1] .. " and " .. case[2], function()
        local e = error_event(case[1], case[2])
        assert.are.equal(case[3], e.errorLevel)
        assert.are.equal(case[4], e.objectType)
        assert.are.equal(case[1], e:raw("errorLevel"))
        assert.are.equal(case[2], e:raw("objectType"))
        assert.matches('"errorLevel":"' .. case[1] .. '"', e:to_json(), 1, true)
      end)
    end
  end)

  describe("nested error", function()
    it("is typed, immutable and keeps unknown members", function()
      local page = migration.decode_page(io.open("spec/fixtures/page-b.json"):read("a"))
      local err = page[2].error
      assert.are.equal("PublicError", migration.type(err))
      assert.are.equal("-2147213196", err.code)
      assert.are.equal("string", type(err.code))
      assert.are.equal("Operation canceled.", err.message)
      assert.are.same({ errorType = "microsoft.SharePoint.SPException" }, err:additional_data())
      assert.has_error(function() err.code = "0" end,
        "attempt to modify read-only field 'code' of msgraph.migration.PublicError")
      assert.are.equal("msgraph.migration.PublicError(code=-2147213196)", tostring(err))
    end)

    it("types details and innerError", function()
      local page = migration.decode_page(io.open("spec/fixtures/all-types.json"):read("a"))
      local err = page[7].error
      assert.are.equal("PublicErrorDetail", migration.type(err.details[1]))
      assert.are.equal("d2", err.details[2].code)
      assert.are.equal("PublicInnerError", migration.type(err.innerError))
      assert.are.equal("deep", err.innerError.details[1].message)
      assert.are.same({ ["request-id"] = "r-1", date = "2025-11-20T14:40:02" }, err.innerError:additional_data())
    end)
  end)

  describe("time", function()
    it("instant gives seconds and nanoseconds", function()
      local s, ns = event:instant()
      assert.are.equal(1763649104, s)
      assert.are.equal(517000000, ns)
      local e = migration.decode('{"eventDateTime":"2025-11-20T15:31:44.5170001+01:00"}')
      s, ns = e:instant()
      assert.are.equal(1763649104, s)
      assert.are.equal(517000100, ns)
      assert.is_nil(migration.decode("{}"):instant())
    end)

    it("reads text without a zone as UTC", function()
      assert.are.equal(1763649104, (migration.decode('{"eventDateTime":"2025-11-20T14:31:44"}'):instant()))
    end)

    it("instant of another field", function()
      local e = migration.decode('{"@odata.type":"#microsoft.graph.migrationJobPostponedEvent",'
        .. '"nextPickupDateTime":"1970-01-01T00:00:01.000000000001Z"}')
      assert.are.same({ 1, 0 }, { e:instant("nextPickupDateTime") })
      assert.has_error(function() e:instant("reason") end,
        "bad argument #1 to 'instant' ('reason' is not a DateTimeOffset field)")
    end)

    it("by_time sorts across offsets and precision", function()
      local events = {
        migration.decode('{"id":"c","eventDateTime":"2025-01-01T01:00:00.0000001+01:00"}'),
        migration.decode('{"id":"b","eventDateTime":"2025-01-01T00:00:00Z"}'),
        migration.decode('{"id":"a","eventDateTime":"2025-01-01T00:00:00.000Z"}'),
        migration.decode('{"id":"d"}'),
        migration.decode('{"id":"e","eventDateTime":"2024-12-31T23:59:59.999999999999-00:00"}'),
      }
      table.sort(events, migration.by_time)
      local ids = {}
      for i, e in ipairs(events) do ids[i] = e.id end
      assert.are.same({ "d", "e", "a", "b", "c" }, ids)
    end)
  end)
end)
