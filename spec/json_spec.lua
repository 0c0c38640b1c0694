-- luacheck: max line length 150
local helpers = require "helpers"
local migration = helpers.migration
local cjson = helpers.cjson

local E = '{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent",%s}'
local P = '{"value":[%s]}'
local function page_of(props) return P:format(E:format(props)) end
local function error_event(error_json)
  return P:format('{"@odata.type":"#microsoft.graph.migrationJobErrorEvent","error":' .. error_json .. '}')
end

describe("msgraph.migration JSON", function()
  describe("round-trip law", function()
    for _, path in ipairs(helpers.pages) do
      it("holds on " .. path, function()
        local text = helpers.read(path)
        local events = migration.decode_page(text)
        local original = cjson.decode(text).value
        assert.is_true(#events > 0)

        for i, event in ipairs(events) do
          local once = migration.encode(event)
          local again = migration.decode(once)
          assert.is_true(again == event, "decode(encode(x)) == x for event " .. i)
          assert.are.equal(once, migration.encode(again), "encoding is idempotent for event " .. i)
          assert.are.equal(once, event:to_json())
          -- cjson reads the input event and our output as equal values.
          assert.is_true(helpers.same_json(original[i], cjson.decode(once)), "cjson sees the same value for event " .. i)
        end
      end)
    end
  end)

  describe("losslessness", function()
    it("keeps unknown properties in input order, with explicit nulls", function()
      local text = E:format('"b":1,"id":"x","a":{"z":[1,2.50,"\\u00e9"],"y":null},"c":null,"jobId":null')
      local event = migration.decode(text)
      assert.are.equal('{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","b":1,"id":"x",'
        .. '"a":{"z":[1,2.50,"é"],"y":null},"c":null,"jobId":null}', event:to_json())
      local extra = event:additional_data()
      assert.are.equal(1, extra.b)
      assert.are.equal(migration.null, extra.c)
      assert.are.equal(cjson.null, extra.a.y)
      assert.are.equal(2.5, extra.a.z[2])
    end)

    it("reads a very long unknown number as a float", function()
      local event = migration.decode('{"x":0.' .. ("0"):rep(600) .. '1}')
      assert.are.equal("float", math.type(event:additional_data().x))
      assert.are.equal('{"x":0.' .. ("0"):rep(600) .. '1}', event:to_json())
    end)

    it("writes @odata.type first whatever its input position", function()
      local event = migration.decode('{"id":"x","@odata.type":"#microsoft.graph.sharepointMigrationJobQueuedEvent"}')
      assert.are.equal('{"@odata.type":"#microsoft.graph.sharepointMigrationJobQueuedEvent","id":"x"}', event:to_json())
      assert.are.equal("MigrationJobQueuedEvent", migration.type(event))
    end)

    it("keeps timestamp text", function()
      for _, stamp in ipairs({ "2025-05-08T09:13:46.028Z", "2025-05-08T09:13:45.5650000Z", "2014-01-01T00:00:00Z",
        "2024-02-08T12:07:31", "2025-05-08T09:13:46+00:00", "2017-10-12T00:00:00.0000000",
        "2025-05-08T09:13:46.123456789012-09:30" }) do
        local event = migration.decode('{"eventDateTime":"' .. stamp .. '"}')
        assert.are.equal(stamp, event.eventDateTime)
        assert.are.equal('{"eventDateTime":"' .. stamp .. '"}', event:to_json())
      end
    end)

    it("writes UTF-8 as is and escapes control characters", function()
      local event = migration.decode('{"id":"a\\"b\\\\c\\/d\\u0001\\n\\t📄é\\u0000"}')
      assert.are.equal('a"b\\c/d\1\n\t📄é\0', event.id)
      assert.are.equal('{"id":"a\\"b\\\\c/d\\u0001\\n\\t📄é\\u0000"}', event:to_json())
    end)

    it("keeps a leading byte order mark out of the value", function()
      local events = migration.decode_page("\239\187\191" .. '{"value":[{"id":"x"}]}')
      assert.are.equal("x", events[1].id)
    end)

    it("to_table gives plain values for other JSON libraries", function()
      local events = migration.decode_page(helpers.read("spec/fixtures/page-b.json"))
      local plain = events[2]:to_table()
      assert.are.equal("#microsoft.graph.sharePointMigrationJobErrorEvent", plain["@odata.type"])
      assert.are.equal("FatalError", plain.errorLevel)
      assert.are.equal("microsoft.SharePoint.SPException", plain.error.errorType)
      assert.is_true(helpers.same_json(cjson.decode(events[2]:to_json()), cjson.decode(cjson.encode(plain))))
      assert.are.equal(cjson.null, migration.decode('{"id":null}'):to_table().id)
    end)
  end)

  describe("decode_page", function()
    it("returns events, next link, context and other members", function()
      local events, next_link, context, extra = migration.decode_page(helpers.read("spec/fixtures/page-a.json"))
      assert.are.equal(5, #events)
      assert.are.equal("https://graph.microsoft.com/v1.0/storage/fileStorage/containers/b!Qm9n-ZmFrZUNvbnRhaW5lcklkMDAx_XyZ/"
        .. "migrationJobs/5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60/progressEvents?$skiptoken=NQ", next_link)
      assert.matches("^https://graph.microsoft.com/v1.0/%$metadata#storage", context)
      assert.is_nil(extra)
      assert.are.equal(4294967301, events[3].jobsInQueue)

      local _, _, _, more = migration.decode_page('{"value":[],"@odata.count":7,"x":{"y":[true]}}')
      assert.are.same({ ["@odata.count"] = 7, x = { y = { true } } }, more)
    end)

    it("has no next link on the last page", function()
      local events, next_link = migration.decode_page(helpers.read("spec/fixtures/page-b.json"))
      assert.are.equal(4, #events)
      assert.is_nil(next_link)
    end)

    it("reads value null as no events and skips null items", function()
      assert.are.same({}, (migration.decode_page('{"value":null}')))
      local events = migration.decode_page('{"value":[null,{"id":"a"},null,{"id":"b"}]}')
      assert.are.equal(2, #events)
      assert.are.equal("b", events[2].id)
      assert.has_error(function() migration.decode_page('{"value":[null,null,5]}') end,
        "value[2]: expected object, got 5")
    end)
  end)

  describe("bad input", function()
    local cases = {
      { "unclosed array", '{"value":[1', "value[0]: expected object, got 1" },
      { "truncated text", '{"value":[', "invalid JSON at byte 11: unexpected end of input" },
      { "trailing garbage", '{"value":[]} x', "invalid JSON at byte 14: trailing garbage" },
      { "two literals in a row", '{"value":[{"n":true false}]}',
        "invalid JSON at byte 20: after key and value, inside map, I expect ',' or '}'" },
      { "missing comma in an array", '{"value":[{},{} {}]}',
        "invalid JSON at byte 17: after array element, I expect ',' or ']'" },
      { "trailing comma", '{"value":[],}', "invalid JSON at byte 13: invalid object key (must be a string)" },
      { "empty input", "", "invalid JSON: empty input" },
      { "Int32 overflow", P:format("{},{},{}," .. E:format('"totalRetryCount":2147483648')),
        "value[3].totalRetryCount: expected Int32, got 2147483648" },
      { "Int32 underflow", page_of('"totalRetryCount":-2147483649'),
        "value[0].totalRetryCount: expected Int32, got -2147483649" },
      { "Int32 fraction", page_of('"totalRetryCount":1.0'), "value[0].totalRetryCount: expected Int32, got 1.0" },
      { "Int32 exponent", page_of('"totalRetryCount":1e2'), "value[0].totalRetryCount: expected Int32, got 1e2" },
      { "Int32 huge", page_of('"totalRetryCount":1e400'), "value[0].totalRetryCount: expected Int32, got 1e400" },
      { "Int32 as string", page_of('"totalRetryCount":"1"'), 'value[0].totalRetryCount: expected Int32, got "1"' },
      { "Int32 leading zero", page_of('"totalRetryCount":01'),
        "invalid JSON at byte 90: after key and value, inside map, I expect ',' or '}'" },
      { "Boolean as string", page_of('"isCancelledByUser":"true"'),
        'value[0].isCancelledByUser: expected Boolean, got "true"' },
      { "Boolean as number", page_of('"isCancelledByUser":1'), "value[0].isCancelledByUser: expected Boolean, got 1" },
      { "String as number", page_of('"id":5'), "value[0].id: expected String, got 5" },
      { "String as object", page_of('"id":{"a":1}'), "value[0].id: expected String, got object" },
      { "String as array", page_of('"jobId":[1]'), "value[0].jobId: expected String, got array" },
      { "Int64 overflow", P:format('{"@odata.type":"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":9223372036854775808}'),
        "value[0].bytesProcessed: expected Int64, got 9223372036854775808" },
      { "Int64 string overflow", P:format('{"@odata.type":"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":"-9223372036854775809"}'),
        'value[0].bytesProcessed: expected Int64, got "-9223372036854775809"' },
      { "Int64 non-numeric string", P:format('{"@odata.type":"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":"12a"}'),
        'value[0].bytesProcessed: expected Int64, got "12a"' },
      { "Int64 fraction", P:format('{"@odata.type":"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":1.5}'),
        "value[0].bytesProcessed: expected Int64, got 1.5" },
      { "impossible date", page_of('"eventDateTime":"2025-02-30T00:00:00Z"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2025-02-30T00:00:00Z" (day out of range)' },
      { "hour 24", page_of('"eventDateTime":"2025-11-20T24:00:00Z"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2025-11-20T24:00:00Z" (hour out of range)' },
      { "space for T", page_of('"eventDateTime":"2025-11-20 10:00:00Z"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2025-11-20 10:00:00Z" (not in the form YYYY-MM-DDTHH:MM:SS)' },
      { "13 fractional digits", page_of('"eventDateTime":"2025-11-20T10:00:00.1234567890123Z"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2025-11-20T10:00:00.1234567890123Z" (more than 12 fractional digits)' },
      { "offset beyond 14 hours", page_of('"eventDateTime":"2025-11-20T10:00:00+15:00"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2025-11-20T10:00:00+15:00" (offset out of range)' },
      { "empty fraction", page_of('"eventDateTime":"2024-02-29T10:00:00.Z"'),
        'value[0].eventDateTime: expected DateTimeOffset, got "2024-02-29T10:00:00.Z" (no digits after the decimal point)' },
      { "timestamp as number", page_of('"eventDateTime":17'), "value[0].eventDateTime: expected DateTimeOffset, got 17" },
      { "string event", P:format('"x"'), 'value[0]: expected object, got "x"' },
      { "array event", P:format("[]"), "value[0]: expected object, got array" },
      { "value as object", '{"value":{}}', "value: expected array, got object" },
      { "value as number", '{"value":5}', "value: expected array, got 5" },
      { "nextLink as number", '{"@odata.nextLink":5,"value":[]}', "@odata.nextLink: expected string, got 5" },
      { "context as array", '{"@odata.context":[],"value":[]}', "@odata.context: expected string, got array" },
      { "missing value", "{}", 'value: missing (a progressEvents page has a "value" array; use decode for one event)' },
      { "array page", "[]", "expected object (a progressEvents page) at the top level, got array" },
      { "duplicate value", '{"value":[],"value":[]}', "value: duplicate property" },
      { "duplicate known property", page_of('"id":"a","id":"b"'), "value[0].id: duplicate property" },
      { "duplicate unknown property", page_of('"x":1,"x":2'), "value[0].x: duplicate property" },
      { "duplicate @odata.type", P:format('{"@odata.type":"#microsoft.graph.migrationJobStartEvent","@odata.type":"#x"}'),
        "value[0].@odata.type: duplicate property" },
      { "duplicate key in an unknown value", page_of('"a":[{"b":1},{"b":2,"c":{"b":1},"b":3}]'),
        'invalid JSON at byte 106: duplicate key "b" in a nested object' },
      { "duplicate key in a page member", '{"value":[],"x":{"y":1,"y":1}}',
        'invalid JSON at byte 26: duplicate key "y" in a nested object' },
      { "duplicate key in a large object", (function()
          local keys = {}
          for i = 1, 100 do keys[i] = ('"k%d":%d'):format(i, i) end
          return page_of('"a":{' .. table.concat(keys, ",") .. ',"k50":0}')
        end)(), 'invalid JSON at byte 965: duplicate key "k50" in a nested object' },
      { "a long number in a message", page_of('"totalRetryCount":' .. ("9"):rep(100)),
        "value[0].totalRetryCount: expected Int32, got " .. ("9"):rep(40) .. "..." },
      { "@odata.type as number", P:format('{"@odata.type":5}'), "value[0].@odata.type: expected String, got 5" },
      { "error as string", error_event('"x"'), 'value[0].error: expected object, got "x"' },
      { "details as object", error_event('{"details":{}}'), "value[0].error.details: expected array, got object" },
      { "detail code as number", error_event('{"details":[{"code":5}]}'),
        "value[0].error.details[0].code: expected String, got 5" },
      { "null inner detail", error_event('{"innerError":{"details":[null]}}'),
        "value[0].error.innerError.details[0]: expected object, got null" },
      { "enum as number", P:format('{"@odata.type":"#microsoft.graph.migrationJobErrorEvent","errorLevel":3}'),
        "value[0].errorLevel: expected sharePointMigrationJobErrorLevel, got 3" },
      { "truncated UTF-8", page_of('"id":"\195"'), "invalid JSON at byte 79: invalid UTF-8" },
      { "overlong UTF-8", page_of('"id":"\192\175"'), "invalid JSON at byte 78: invalid UTF-8" },
      { "UTF-8 surrogate", page_of('"id":"\237\160\128"'), "invalid JSON at byte 79: invalid UTF-8" },
      { "UTF-8 beyond U+10FFFF", page_of('"id":"\244\144\128\128"'), "invalid JSON at byte 79: invalid UTF-8" },
      { "invalid UTF-8 in a key", page_of('"x\255":1'), "invalid JSON at byte 74: invalid UTF-8" },
      { "lone high surrogate escape", page_of('"id":"\\ud800"'), "invalid JSON at byte 78: unpaired high surrogate escape" },
      { "reversed surrogate escapes", page_of('"id":"\\udc00\\ud800"'), "invalid JSON at byte 78: unpaired low surrogate escape" },
      { "high surrogate then letter", page_of('"id":"\\ud800\\u0041"'), "invalid JSON at byte 78: unpaired high surrogate escape" },
      { "incomplete byte order mark", "\239\187{}", "invalid JSON at byte 1: incomplete byte order mark" },
      { "deep unknown value", P:format('{"deep":' .. ("["):rep(70) .. ("]"):rep(70) .. "}"),
        "invalid JSON at byte 80: nesting deeper than 64 levels" },
    }

    for _, case in ipairs(cases) do
      it("rejects " .. case[1], function()
        assert.has_error(function() migration.decode_page(case[2]) end, case[3])
        local result, err = migration.safe.decode_page(case[2])
        assert.is_nil(result)
        assert.are.equal(case[3], err)
      end)
    end

    local event_cases = {
      { "an array", "[1]", "expected object at the top level, got array" },
      { "a number", "5", "expected object at the top level, got 5" },
      { "an unclosed object", '{"value":[]', "invalid JSON at byte 12: unexpected end of input" },
      { "two objects", '{"totalRetryCount":1} {}', "invalid JSON at byte 23: trailing garbage" },
      { "a long string in a message", '{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","totalRetryCount":"'
        .. ("é"):rep(30) .. '"}', 'totalRetryCount: expected Int32, got "' .. ("é"):rep(20) .. '..."' },
    }
    for _, case in ipairs(event_cases) do
      it("decode rejects " .. case[1], function()
        assert.has_error(function() migration.decode(case[2]) end, case[3])
        assert.are.same({ nil, case[3] }, { migration.safe.decode(case[2]) })
      end)
    end

    it("rejects a non-string argument", function()
      assert.has_error(function() migration.decode({}) end, "bad argument #1 to 'decode' (string expected, got table)")
    end)

    it("accepts -0 as an integer and writes it as 0", function()
      assert.are.equal('{"totalRetryCount":0}',
        migration.decode('{"@odata.type":"#microsoft.graph.migrationJobStartEvent","totalRetryCount":-0}')
          :to_json():gsub('"@odata.type":"[^"]*",', ""))
    end)
  end)
end)
