--- Typed Microsoft Graph migration progress events.
--
-- The C module `msgraph.migration.core` defines the event types and reads and
-- writes their JSON; this module adds the `nil, err` variants, a streaming
-- iterator over a page read in chunks, and job summaries.
--
-- @module msgraph.migration
-- @usage
-- local migration = require "msgraph.migration"
-- local events, next_link = migration.decode_page(body)
-- table.sort(events, migration.by_time)
-- for _, ev in ipairs(events) do
--   if migration.is_a(ev, migration.MigrationJobCancelledEvent) then
--     print(ev.jobId, ev.isCancelledByUser and "cancelled by a user" or "cancelled by the system")
--   end
-- end

local core = require "msgraph.migration.core"
local summary = require "msgraph.migration.summary"

local M = {}
for name, value in pairs(core) do
  M[name] = value
end

--- Decodes one event object.
-- The type comes from `@odata.type` in any of the three naming generations.
-- An object of a type not modeled, or without `@odata.type`, becomes a
-- `MigrationEvent` that keeps its other properties.
-- @function decode
-- @tparam string text JSON text of one event
-- @return the event
-- @raise a message naming the JSON path or byte position and what was expected

--- Decodes a collection response of the progressEvents List API.
-- @function decode_page
-- @tparam string text JSON text of a page
-- @treturn table the events, in page order
-- @treturn ?string `@odata.nextLink`, nil on the last page
-- @treturn ?string `@odata.context`
-- @treturn ?table other page members as Lua values, nil when there are none

--- Writes an event or nested object as compact JSON.
-- @function encode
-- @param obj a record returned by decode or built with `Type.new`
-- @treturn string JSON text

--- Creates an incremental page decoder: `d:feed(chunk)`, `d:next_event()`,
-- `d:finish()` returning the next link, context and other page members.
-- @function page_decoder

--- Event and object types.
--
-- Each type is a table with `name`, `fields` (property names in schema
-- order), `methods`, `base` (the base type table) and, for event types,
-- `spellings` (the three `@odata.type` values). All but `Entity` have
-- `new(properties)`, which checks every value and rejects unknown names;
-- `migration.null` stands for an explicit JSON null.
-- @table Types
-- @field Entity the base of all events; abstract
-- @field MigrationEvent the base of all migration events
-- @field MigrationJobCancelledEvent isCancelledByUser, totalRetryCount
-- @field MigrationJobQueuedEvent no own properties
-- @field MigrationJobDeletedEvent no own properties
-- @field MigrationJobStartEvent isRestarted, totalRetryCount
-- @field MigrationJobPostponedEvent jobsInQueue, nextPickupDateTime, reason, totalRetryCount
-- @field MigrationJobProgressEvent isCompleted, lastProcessedObjectId, totalRetryCount and 14 Int64 counters
-- @field MigrationJobErrorEvent error, errorLevel, objectId, objectType, objectUrl, totalRetryCount
-- @field MigrationFinishManifestFileUploadEvent manifestFileName
-- @field PublicError code, details, innerError, message, target
-- @field PublicErrorDetail code, message, target
-- @field PublicInnerError code, details, message, target
-- @usage
-- local ev = migration.MigrationJobCancelledEvent.new{ id = "c1", isCancelledByUser = true }

--- Methods of every event and nested object.
--
-- Properties are read as fields under their Graph names (`ev.jobId`); reading
-- a name the type lacks raises, and no field can be assigned.
-- @table methods
-- @field to_json `obj:to_json()`: the same as `encode(obj)`
-- @field to_table `obj:to_table()`: a plain table with the same content, JSON
-- null as `migration.null`, enums as written, nested objects as tables
-- @field additional_data `obj:additional_data()`: the unknown properties as Lua values
-- @field raw `obj:raw(name)`: the value as written; differs from `obj[name]` for enums
-- @field odata_type `ev:odata_type()`: the `@odata.type` text as it came, or nil (events only)
-- @field instant `ev:instant([name])`: seconds and nanoseconds since 1970-01-01T00:00:00Z
-- of a DateTimeOffset property, `eventDateTime` by default, or nil when it is absent (events only)

--- Checks whether a value is a record of a type or of one of its subtypes.
-- @function is_a
-- @param value any value
-- @tparam table|string type a type table or its name
-- @treturn boolean

--- Reads a property without raising when the type lacks it.
-- `ev.name` raises for a name the event's type does not have; scripts that
-- walk mixed events use this instead.
-- @function get
-- @param obj an event or nested object
-- @tparam string name a Graph property name
-- @return the value, or nil when the property is absent, null or not one of the type's
-- @usage local retries = migration.get(ev, "totalRetryCount") or 0

--- Returns the type name of a record (such as "MigrationJobStartEvent"), or nil for any other value.
-- @function type
-- @param value any value

--- Compares two events by their `eventDateTime` instant, for `table.sort`.
-- All 12 fractional digits count and offsets are applied; events without a
-- time come first, and ties are ordered by id.
-- @function by_time

--- Variants of decode, decode_page and encode that return `nil, message`
-- instead of raising.
-- @table safe
M.safe = {}

local function protect(fn)
  return function(...)
    local results = table.pack(pcall(fn, ...))
    if not results[1] then
      return nil, results[2]
    end
    return table.unpack(results, 2, results.n)
  end
end

M.safe.decode = protect(core.decode)
M.safe.decode_page = protect(core.decode_page)
M.safe.encode = protect(core.encode)

--- Iterates over the events of a page that arrives in chunks.
-- Memory stays bounded by the largest event, not by the page.
-- @tparam function|file source a function returning the next chunk (nil at
-- the end), or an open file read in 64 KiB chunks
-- @treturn function an iterator returning one event per call, then nil
-- @treturn table page values: its `next_link`, `context` and `extra` fields
-- are set once the iterator has returned nil
-- @usage
-- local f = assert(io.open("page.json", "rb"))
-- for ev in migration.each_event(f) do print(ev.id) end
function M.each_event(source)
  if io.type(source) == "file" then
    local file = source
    source = function()
      return file:read(65536)
    end
  elseif type(source) ~= "function" then
    local got = io.type(source) or type(source)
    error("bad argument #1 to 'each_event' (function or file expected, got " .. got .. ")", 2)
  end

  local decoder = core.page_decoder()
  local state = {}
  local done = false

  local function next_event()
    while true do
      local event = decoder:next_event()
      if event ~= nil or done then
        return event
      end
      local chunk = source()
      if chunk ~= nil and type(chunk) ~= "string" then
        error("each_event: the source returned a " .. type(chunk) .. ", expected a string or nil", 2)
      end
      if chunk == nil then
        done = true
        state.next_link, state.context, state.extra = decoder:finish()
      else
        decoder:feed(chunk)
      end
    end
  end

  return next_event, state
end

--- Summarizes jobs from their events; see `msgraph.migration.summary`.
-- @function summarize
M.summarize = summary.summarize

return M
