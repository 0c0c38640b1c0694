-- luacheck: max line length 150
local migration = require "msgraph.migration"

local CANCELLED = '{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","id":"c1","totalRetryCount":1}'

describe("msgraph.migration hostile input", function()
  it("keeps a 4 MB string in an unknown property", function()
    local big = ("x"):rep(4 * 1024 * 1024)
    local event = migration.decode('{"id":"a","blob":"' .. big .. '"}')
    assert.are.equal(big, event:additional_data().blob)
    assert.are.equal('{"id":"a","blob":"' .. big .. '"}', event:to_json())
  end)

  it("keeps a 1 MB key", function()
    local key = ("k"):rep(1024 * 1024)
    local event = migration.decode('{"' .. key .. '":1}')
    assert.are.equal(1, event:additional_data()[key])
  end)

  it("keeps an array of two million elements", function()
    local items = ("0,"):rep(2000000 - 1) .. "0"
    local event = migration.decode('{"many":[' .. items .. ']}')
    assert.are.equal(2000000, #event:additional_data().many)
    assert.are.equal('{"many":[' .. items .. ']}', event:to_json())
  end)

  it("rejects nesting past 64 levels in an event", function()
    assert.has_error(function() migration.decode('{"a":' .. ("["):rep(64) .. ("]"):rep(64) .. "}") end,
      "invalid JSON at byte 69: nesting deeper than 64 levels")
    assert.has_no_error(function() migration.decode('{"a":' .. ("["):rep(63) .. ("]"):rep(63) .. "}") end)
  end)

  it("rejects a million levels of nesting quickly and cleanly", function()
    assert.has_error(function() migration.decode_page(("["):rep(1000000)) end,
      "expected object (a progressEvents page) at the top level, got array")
    assert.has_error(function() migration.decode(('{"a":'):rep(1000000)) end,
      "invalid JSON at byte 321: nesting deeper than 64 levels")
  end)

  it("checks many unknown keys around a nested error", function()
    local parts = {}
    for i = 1, 20 do
      parts[i] = ('"u%d":%d'):format(i, i)
    end
    local text = '{"@odata.type":"#microsoft.graph.migrationJobErrorEvent",' .. table.concat(parts, ",")
      .. ',"error":{"code":"1","details":[{"code":"a"}]},"u21":21'
    local event = migration.decode(text .. "}")
    assert.are.equal("a", event.error.details[1].code)
    assert.are.equal(21, event:additional_data().u21)
    assert.has_error(function() migration.decode(text .. ',"u5":5}') end, "u5: duplicate property")
  end)

  it("keeps an escaped NUL inside strings", function()
    local event = migration.decode('{"id":"a\\u0000b","x":"\\u0000"}')
    assert.are.equal("a\0b", event.id)
    assert.are.equal("\0", event:additional_data().x)
    assert.are.equal('{"id":"a\\u0000b","x":"\\u0000"}', event:to_json())
  end)

  it("rejects a raw control character inside a string", function()
    assert.has_error(function() migration.decode('{"id":"a\1b"}') end,
      "invalid JSON at byte 8: invalid character inside string")
  end)

  describe("misuse from Lua", function()
    local event

    before_each(function()
      event = migration.decode(CANCELLED)
    end)

    it("methods called on nothing or the wrong type", function()
      assert.has_error(function() event.to_json() end,
        "bad argument #1 to 'to_json' (msgraph.migration object expected, got no value)")
      assert.has_error(function() event.to_table(io.stdout) end,
        "bad argument #1 to 'to_table' (msgraph.migration object expected, got FILE*)")
      assert.has_error(function() event.raw(event, "nope") end,
        "bad argument #2 to 'raw' (msgraph.migration.MigrationJobCancelledEvent has no field 'nope')")
      assert.has_error(function() event.additional_data(migration.page_decoder()) end,
        "bad argument #1 to 'additional_data' (msgraph.migration object expected, got msgraph.migration.PageDecoder)")
    end)

    it("new with a huge table names the first bad key", function()
      local properties = {}
      for i = 1, 100000 do
        properties["p" .. i] = i
      end
      local ok, err = pcall(migration.MigrationJobCancelledEvent.new, properties)
      assert.is_false(ok)
      assert.matches("^bad property 'p%d+' to 'MigrationJobCancelledEvent.new' %(MigrationJobCancelledEvent has no such property%)$",
        err)
    end)

    it("a replaced metatable leaves a value that is no record", function()
      local copy = migration.decode(CANCELLED)
      debug.setmetatable(copy, {})
      assert.is_nil(migration.type(copy))
      assert.is_false(migration.is_a(copy, migration.Entity))
      assert.has_error(function() migration.encode(copy) end,
        "bad argument #1 to 'encode' (msgraph.migration object expected, got userdata)")
      assert.is_false(event == copy)
    end)

    it("a metatable taken from another type does not confuse the record", function()
      local queued = migration.decode('{"@odata.type":"#microsoft.graph.migrationJobQueuedEvent","id":"q"}')
      local copy = migration.decode(CANCELLED)
      debug.setmetatable(copy, debug.getmetatable(queued))
      assert.is_nil(migration.type(copy))
      assert.has_error(function() migration.encode(copy) end,
        "bad argument #1 to 'encode' (msgraph.migration object expected, got msgraph.migration.MigrationJobQueuedEvent)")
    end)
  end)
end)
