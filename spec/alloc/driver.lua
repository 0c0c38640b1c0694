-- Operations for the allocation-failure test (spec/alloc/alloc_fail.c).
--
-- Each operation has prepare(), which runs with the allocator unlimited and
-- returns the function whose allocations are counted and failed, and
-- verify(result), which checks a successful result against a reference made
-- without failures. An operation whose correct outcome is an error names it in
-- expected_error instead.

local migration = require "msgraph.migration"

local CANCELLED_EVENT = table.concat {
  '{"@odata.type":"#microsoft.graph.sharePointMigrationJobCancelledEvent",',
  '"id":"c2a0e3f1-7b44-4d0e-9a51-0d6f1e2a3b01",',
  '"jobId":"5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60",',
  '"eventDateTime":"2025-11-20T14:25:47.5031000+02:00",',
  '"correlationId":"9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",',
  '"isCancelledByUser":false,"totalRetryCount":3,',
  '"note":"unknown member, \\u00e9t\\u00e9 \\ud83d\\ude00",',
  '"extra":{"nested":[1,2.5,null,true,{"deep":"x"}]},"blank":null}',
}

local ERROR_EVENT = table.concat {
  '{"@odata.type":"#microsoft.graph.migrationJobErrorEvent",',
  '"id":"e1","jobId":"j1","eventDateTime":"2025-11-20T14:26:00Z",',
  '"errorLevel":"FatalError","objectType":"listItem","objectId":"o1",',
  '"objectUrl":"https://contoso.example/sites/a","totalRetryCount":0,',
  '"error":{"code":"0x80070005","message":"Access denied","target":"item",',
  '"errorType":"Permission","details":[{"code":"d1","message":"m1","target":"t1"}],',
  '"innerError":{"code":"i1","message":"inner","details":[{"code":"d2"}]}}}',
}

local PROGRESS_EVENT = table.concat {
  '{"@odata.type":"#microsoft.graph.sharepointMigrationJobProgressEvent",',
  '"id":"p1","jobId":"j1","eventDateTime":"2025-11-20T14:25:47Z",',
  '"isCompleted":false,"bytesProcessed":9223372036854775807,',
  '"filesProcessed":"9007199254740993","totalRetryCount":1}',
}

local PAGE = table.concat {
  '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#progressEvents",',
  '"value":[', CANCELLED_EVENT, ',', ERROR_EVENT, ',', PROGRESS_EVENT, ',',
  '{"id":"u1","jobId":"j1","eventDateTime":"2025-11-20T14:27:00Z","custom":[1,[2,[3]]]}',
  '],"@odata.nextLink":"https://graph.microsoft.com/v1.0/next?$skiptoken=abc",',
  '"@odata.count":4}',
}

-- Fails inside a number callback: Int32 overflow in the second event of a page.
local PAGE_WITH_BAD_EVENT = table.concat {
  '{"value":[', CANCELLED_EVENT, ',',
  '{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","id":"x",',
  '"note":"kept until the error","totalRetryCount":2147483648}]}',
}

-- Compares two arrays of events element by element with their __eq.
local function same_events(actual, expected)
  if type(actual) ~= "table" or #actual ~= #expected then
    return false
  end
  for index, event in ipairs(expected) do
    if actual[index] ~= event then
      return false
    end
  end
  return true
end

-- Returns the error that run() raises with the allocator unlimited. The armed
-- call must raise the same message, position prefix included.
local function error_of(run)
  local ok, err = pcall(run)
  assert(not ok, "an expected_error operation succeeded without failures")
  return err
end

local operations = {}

operations.decode = {
  prepare = function()
    operations.decode.reference = migration.decode(CANCELLED_EVENT)
    return function() return migration.decode(CANCELLED_EVENT) end
  end,
  verify = function(obj) return obj == operations.decode.reference end,
}

operations.decode_error_event = {
  prepare = function()
    operations.decode_error_event.reference = migration.decode(ERROR_EVENT)
    return function() return migration.decode(ERROR_EVENT) end
  end,
  verify = function(obj) return obj == operations.decode_error_event.reference end,
}

operations.decode_page = {
  prepare = function()
    operations.decode_page.reference = migration.decode_page(PAGE)
    return function()
      local events, next_link, context, extra = migration.decode_page(PAGE)
      return { events = events, next_link = next_link, context = context, extra = extra }
    end
  end,
  verify = function(page)
    return same_events(page.events, operations.decode_page.reference)
      and page.next_link == "https://graph.microsoft.com/v1.0/next?$skiptoken=abc"
      and page.context == "https://graph.microsoft.com/v1.0/$metadata#progressEvents"
      and type(page.extra) == "table"
  end,
}

-- The error is raised from inside a YAJL callback, after objects were half built.
operations.decode_page_invalid = {
  prepare = function()
    local function run() return migration.decode_page(PAGE_WITH_BAD_EVENT) end
    operations.decode_page_invalid.expected_error = error_of(run)
    return run
  end,
  verify = function() return false end,
}

operations.decode_truncated = {
  prepare = function()
    local text = PAGE:sub(1, #PAGE // 2)
    local function run() return migration.decode_page(text) end
    operations.decode_truncated.expected_error = error_of(run)
    return run
  end,
  verify = function() return false end,
}

operations.encode = {
  prepare = function()
    local page = migration.decode_page(PAGE)
    local expected = {}
    for index, event in ipairs(page) do
      expected[index] = migration.encode(event)
    end
    operations.encode.expected = expected
    return function()
      local texts = {}
      for index, event in ipairs(page) do
        texts[index] = migration.encode(event)
      end
      return texts
    end
  end,
  verify = function(texts)
    local expected = operations.encode.expected
    if #texts ~= #expected then
      return false
    end
    for index, text in ipairs(expected) do
      if texts[index] ~= text then
        return false
      end
    end
    return true
  end,
}

local NEW_FIELDS = {
  id = "n1",
  jobId = "5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60",
  eventDateTime = "2025-11-20T14:25:47.1234567Z",
  correlationId = "9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
  isCancelledByUser = true,
  totalRetryCount = 7,
}

operations.new = {
  prepare = function()
    local Cancelled = migration.MigrationJobCancelledEvent
    operations.new.reference = Cancelled.new(NEW_FIELDS)
    return function() return Cancelled.new(NEW_FIELDS) end
  end,
  verify = function(obj) return obj == operations.new.reference end,
}

operations.new_invalid = {
  prepare = function()
    local Cancelled = migration.MigrationJobCancelledEvent
    local fields = { id = "n2", totalRetryCount = 2 ^ 40 }
    local function run() return Cancelled.new(fields) end
    operations.new_invalid.expected_error = error_of(run)
    return run
  end,
  verify = function() return false end,
}

-- Feeds the page in 7-byte chunks, so chunk boundaries fall inside strings,
-- escapes and numbers.
operations.page_decoder = {
  prepare = function()
    operations.page_decoder.reference = migration.decode_page(PAGE)
    return function()
      local decoder = migration.page_decoder()
      local events = {}
      for position = 1, #PAGE, 7 do
        decoder:feed(PAGE:sub(position, position + 6))
        local event = decoder:next_event()
        while event ~= nil do
          events[#events + 1] = event
          event = decoder:next_event()
        end
      end
      local next_link = decoder:finish()
      return { events = events, next_link = next_link }
    end
  end,
  verify = function(result)
    return same_events(result.events, operations.page_decoder.reference)
      and result.next_link == "https://graph.microsoft.com/v1.0/next?$skiptoken=abc"
  end,
}

return {
  operations = operations,
  order = {
    "decode", "decode_error_event", "decode_page", "decode_page_invalid",
    "decode_truncated", "encode", "new", "new_invalid", "page_decoder",
  },
}
