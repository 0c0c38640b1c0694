-- Properties that the fuzz targets check on every input (see fuzz/harness.c).
--
-- Each check takes the raw input bytes and returns nil when the library behaved,
-- or a message that names the violated property. Errors that the library raises
-- for bad input are expected, so every call into it runs under pcall.

local migration = require "msgraph.migration"

local checks = {}

-- Largest input fed one byte at a time by the page_decoder check; longer inputs
-- get only the random split, to keep each run fast.
local MAX_BYTEWISE_INPUT = 2048

local function describe(value)
  if type(value) == "string" then
    return string.format("%q", value)
  end
  return tostring(value)
end

-- Compares two Lua values built from JSON: tables member by member, migration
-- objects with their own __eq, everything else with rawequal.
local function deep_equal(a, b)
  if type(a) ~= type(b) then
    return false
  end
  if type(a) == "table" then
    for key, value in pairs(a) do
      if not deep_equal(value, b[key]) then
        return false
      end
    end
    for key in pairs(b) do
      if a[key] == nil then
        return false
      end
    end
    return true
  end
  if type(a) == "userdata" then
    return a == b
  end
  return rawequal(a, b) or (a ~= a and b ~= b)
end

-- An error raised for bad input must be a non-empty string, so scripts can show it.
local function check_error_value(err, operation)
  if type(err) ~= "string" or err == "" then
    return operation .. " raised a non-string or empty error: " .. describe(err)
  end
  return nil
end

-- Calls the read-only methods of a decoded object. They may raise for data the
-- object lacks (instant() on a missing eventDateTime), but only with a string.
local function exercise_accessors(obj)
  local calls = {
    { "tostring", function() return tostring(obj) end },
    { "type", function() return migration.type(obj) end },
    { "is_a", function() return migration.is_a(obj, "MigrationEvent") end },
    { "to_table", function() return obj:to_table() end },
    { "additional_data", function() return obj:additional_data() end },
    { "odata_type", function() return obj:odata_type() end },
    { "instant", function() return obj:instant() end },
    { "id", function() return obj.id end },
  }
  for _, call in ipairs(calls) do
    local ok, err = pcall(call[2])
    if not ok then
      local problem = check_error_value(err, call[1] .. "()")
      if problem then
        return problem
      end
    end
  end
  if migration.type(obj) == nil then
    return "type() returned nil for a decoded object"
  end
  return nil
end

-- The round-trip law: decode(encode(x)) == x, and encoding that again gives the
-- same bytes.
local function check_round_trip(obj)
  local ok, first = pcall(migration.encode, obj)
  if not ok then
    return "encode failed on a decoded object: " .. describe(first)
  end
  if type(first) ~= "string" then
    return "encode returned a " .. type(first) .. ", expected a string"
  end

  local method_ok, via_method = pcall(obj.to_json, obj)
  if not method_ok or via_method ~= first then
    return "obj:to_json() differs from encode(obj): " .. describe(via_method)
  end

  local again_ok, again = pcall(migration.decode, first)
  if not again_ok then
    return "decode(encode(x)) failed: " .. describe(again) .. "\nencoded: " .. first
  end
  if again ~= obj then
    return "decode(encode(x)) is not equal to x\nencoded: " .. first
  end

  local second_ok, second = pcall(migration.encode, again)
  if not second_ok then
    return "encode(decode(encode(x))) failed: " .. describe(second)
  end
  if second ~= first then
    return "encode is not idempotent\nfirst:  " .. first .. "\nsecond: " .. second
  end
  return exercise_accessors(obj)
end

function checks.decode(text)
  local ok, obj = pcall(migration.decode, text)
  local safe_obj, safe_err = migration.safe.decode(text)
  if not ok then
    local problem = check_error_value(obj, "decode")
    if problem then
      return problem
    end
    if safe_obj ~= nil or safe_err ~= obj then
      return "safe.decode disagrees with decode: " .. describe(safe_err) .. " vs " .. describe(obj)
    end
    return nil
  end
  if safe_obj == nil or safe_obj ~= obj then
    return "safe.decode failed where decode succeeded: " .. describe(safe_err)
  end
  return check_round_trip(obj)
end

-- Decodes a page with decode_page and returns a table with the outcome, so the
-- streaming check can compare against it.
local function decode_whole_page(text)
  local ok, events, next_link, context, extra = pcall(migration.decode_page, text)
  if not ok then
    return { ok = false, err = events }
  end
  return { ok = true, events = events, next_link = next_link, context = context, extra = extra }
end

local function check_page_result(page)
  if type(page.events) ~= "table" then
    return "decode_page returned " .. type(page.events) .. " for events, expected a table"
  end
  if page.next_link ~= nil and type(page.next_link) ~= "string" then
    return "decode_page returned a non-string next link: " .. describe(page.next_link)
  end
  if page.context ~= nil and type(page.context) ~= "string" then
    return "decode_page returned a non-string context: " .. describe(page.context)
  end
  for index, event in ipairs(page.events) do
    local problem = check_round_trip(event)
    if problem then
      return string.format("event %d: %s", index, problem)
    end
  end
  return nil
end

function checks.decode_page(text)
  local page = decode_whole_page(text)
  local safe_events, safe_err = migration.safe.decode_page(text)
  if not page.ok then
    local problem = check_error_value(page.err, "decode_page")
    if problem then
      return problem
    end
    if safe_events ~= nil or safe_err ~= page.err then
      return "safe.decode_page disagrees with decode_page: " .. describe(safe_err)
    end
    return nil
  end
  if type(safe_events) ~= "table" or #safe_events ~= #page.events then
    return "safe.decode_page failed where decode_page succeeded: " .. describe(safe_err)
  end
  return check_page_result(page)
end

-- Feeds text to a page_decoder in chunks whose sizes come from next_size, and
-- collects what it yields in the same shape as decode_whole_page.
local function decode_streamed(text, next_size)
  local decoder = migration.page_decoder()
  local events = {}

  local function drain()
    while true do
      local event = decoder:next_event()
      if event == nil then
        return
      end
      events[#events + 1] = event
    end
  end

  local ok, next_link, context, extra = pcall(function()
    local position = 1
    while position <= #text do
      local size = next_size()
      decoder:feed(text:sub(position, position + size - 1))
      position = position + size
      drain()
    end
    local link, ctx, members = decoder:finish()
    drain()
    return link, ctx, members
  end)
  if not ok then
    return { ok = false, err = next_link, events = events }
  end
  return { ok = true, events = events, next_link = next_link, context = context, extra = extra }
end

-- Removes the "chunk:line: " prefix that luaL_error adds when the caller is a
-- Lua function, so errors raised through feed() and decode_page() compare equal.
local function strip_position(message)
  -- Only a chunk name ending in ".lua" or a [string "..."] chunk: a message
  -- such as 'got ":4: 41"' has the same shape and must stay whole.
  local stripped = message:gsub('^[^\n:"]*%.lua:%d+: ', "", 1)
  stripped = stripped:gsub('^%[string "[^\n]-"%]:%d+: ', "", 1)
  return stripped
end

-- YAJL's own syntax errors may name an earlier byte when the offending token
-- spans chunks (see raise_yajl_error in src/decode.c); the rest must match.
local YAJL_MESSAGES = {
  "after key and value, inside map, I expect ',' or '}'",
  "after array element, I expect ',' or ']'",
  "unexpected end of input",
}

local function comparable(message)
  for _, text in ipairs(YAJL_MESSAGES) do
    if message:sub(-#text) == text then
      return (message:gsub("^invalid JSON at byte %d+: ", "invalid JSON at byte N: "))
    end
  end
  return message
end

local function compare_streamed(streamed, whole, split)
  if streamed.ok ~= whole.ok then
    if whole.ok then
      return split .. ": page_decoder failed where decode_page succeeded: " .. describe(streamed.err)
    end
    return split .. ": page_decoder succeeded where decode_page failed: " .. describe(whole.err)
  end
  if not streamed.ok then
    local problem = check_error_value(streamed.err, "page_decoder")
    if problem then
      return problem
    end
    local streamed_message = comparable(strip_position(streamed.err))
    local whole_message = comparable(strip_position(whole.err))
    if streamed_message ~= whole_message then
      return split .. ": page_decoder and decode_page raised different errors:\n  "
        .. describe(streamed_message) .. "\n  " .. describe(whole_message)
    end
    return nil
  end
  if #streamed.events ~= #whole.events then
    return string.format("%s: page_decoder yielded %d events, decode_page %d",
      split, #streamed.events, #whole.events)
  end
  for index, event in ipairs(whole.events) do
    if streamed.events[index] ~= event then
      return string.format("%s: event %d differs between page_decoder and decode_page", split, index)
    end
  end
  if streamed.next_link ~= whole.next_link then
    return split .. ": next link differs: " .. describe(streamed.next_link) .. " vs " .. describe(whole.next_link)
  end
  if streamed.context ~= whole.context then
    return split .. ": context differs: " .. describe(streamed.context) .. " vs " .. describe(whole.context)
  end
  if not deep_equal(streamed.extra, whole.extra) then
    return split .. ": extra page members differ"
  end
  return nil
end

-- Seeds a generator from the input itself, so each input has a fixed but
-- input-specific set of chunk boundaries and a crash reproduces from the file alone.
local function seed_from(text)
  local hash = 2166136261
  for index = 1, math.min(#text, 256) do
    hash = ((hash ~ text:byte(index)) * 16777619) & 0xffffffff
  end
  return hash
end

function checks.page_decoder(text)
  local whole = decode_whole_page(text)
  if whole.ok then
    local problem = check_page_result(whole)
    if problem then
      return problem
    end
  end

  math.randomseed(seed_from(text), #text)
  local function random_size()
    if math.random(8) == 1 then
      return math.random(64, 512)
    end
    return math.random(1, 16)
  end
  local problem = compare_streamed(decode_streamed(text, random_size), whole, "random chunks")
  if problem or #text > MAX_BYTEWISE_INPUT then
    return problem
  end
  return compare_streamed(decode_streamed(text, function() return 1 end), whole, "one-byte chunks")
end

return checks
