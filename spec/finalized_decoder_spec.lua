-- A page decoder whose __gc was called by hand (through debug.getmetatable)
-- must raise on later use, not crash. Each case runs in a child lua5.4, so a
-- crash fails one test instead of ending the whole suite.

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

-- Runs a Lua chunk in a child interpreter with this process's search paths
-- and returns its exit status and combined output.
local function run_child(chunk)
  local setup = string.format("package.path = %q; package.cpath = %q", package.path, package.cpath)
  local command = table.concat({
    os.getenv("LUA") or "lua5.4",
    "-e", shell_quote(setup),
    "-e", shell_quote(chunk),
    "2>&1; echo \"exit status $?\"",
  }, " ")
  local pipe = assert(io.popen(command, "r"))
  local output = pipe:read("a")
  pipe:close()
  local status = tonumber(output:match("exit status (%d+)%s*$"))
  return status, output
end

local PREAMBLE = [[
local migration = require "msgraph.migration"
local decoder = migration.page_decoder()
decoder:feed('{"value":[{"id":"a"},')
local finalize = debug.getmetatable(decoder).__gc
finalize(decoder)
finalize(decoder)
]]

describe("page_decoder after an explicit __gc", function()
  it("feed raises an error", function()
    local status, output = run_child(PREAMBLE .. [[
      print(pcall(decoder.feed, decoder, '{"id":"b"}]}'))
    ]])
    assert.are.equal(0, status, output)
    assert.are.equal("false\tthe page decoder is closed\n", output:match("^(.-\n)"))
  end)

  it("finish raises an error", function()
    local status, output = run_child(PREAMBLE .. [[
      print(pcall(decoder.finish, decoder))
    ]])
    assert.are.equal(0, status, output)
    assert.are.equal("false\tthe page decoder is closed\n", output:match("^(.-\n)"))
  end)

  it("next_event does not crash", function()
    local status, output = run_child(PREAMBLE .. [[
      print(pcall(decoder.next_event, decoder))
    ]])
    assert.are.equal(0, status, output)
  end)
end)
