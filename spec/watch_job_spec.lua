local mock = require "support.mock_graph"

local TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.d2F0Y2gtam9iLXNlY3JldA.sig-YmF6cXV4"

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local handle = assert(io.open(path, "r"))
  local text = handle:read("a")
  handle:close()
  return text
end

local root
do
  local pipe = assert(io.popen("pwd"))
  root = pipe:read("l")
  pipe:close()
end

-- Search paths for the subprocess: those of the caller first (the Makefile
-- exports them), then the source tree.
local lua_path = (os.getenv("LUA_PATH_5_4") or "") .. ";" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"
local lua_cpath = (os.getenv("LUA_CPATH_5_4") or "") .. ";" .. root .. "/build/?.so;;"

-- Runs examples/watch-job.lua with the given arguments and environment
-- and returns its exit status, stdout and stderr.
local function run_watch(arguments, environment)
  local out_path, err_path = os.tmpname(), os.tmpname()
  local words = { "env", "-u", "GRAPH_TOKEN",
    "LUA_PATH_5_4=" .. shell_quote(lua_path), "LUA_CPATH_5_4=" .. shell_quote(lua_cpath) }
  for name, value in pairs(environment or {}) do
    words[#words + 1] = name .. "=" .. shell_quote(value)
  end
  words[#words + 1] = os.getenv("LUA") or "lua5.4"
  words[#words + 1] = shell_quote(root .. "/examples/watch-job.lua")
  for _, argument in ipairs(arguments) do
    words[#words + 1] = shell_quote(argument)
  end
  local command = table.concat(words, " ") .. " >" .. shell_quote(out_path) .. " 2>" .. shell_quote(err_path)
    .. "; echo $?"
  local pipe = assert(io.popen(command, "r"))
  local status = tonumber(pipe:read("l"))
  pipe:close()
  local stdout, stderr = read_file(out_path), read_file(err_path)
  os.remove(out_path)
  os.remove(err_path)
  return status, stdout, stderr
end

local function count(text, pattern)
  local _, found = text:gsub(pattern, "")
  return found
end

describe("watch-job example", function()
  local server

  after_each(function()
    if server then
      server.stop()
      server = nil
    end
  end)

  local function watch(scenario, extra_arguments)
    server = mock.start{ scenario = scenario }
    local arguments = {
      "--container", mock.CONTAINER_ID, "--job", mock.JOB_ID,
      "--base-url", server.base_url, "--interval", "0",
    }
    for _, argument in ipairs(extra_arguments or {}) do
      arguments[#arguments + 1] = argument
    end
    return run_watch(arguments, { GRAPH_TOKEN = TOKEN })
  end

  it("exits 0 when the job completes", function()
    local status, stdout, stderr = watch("job-completes")

    assert.are.equal(0, status, stderr)
    assert.are.equal(1, count(stdout, "  queued\n"))
    assert.are.equal(1, count(stdout, "  started\n"))
    assert.are.equal(1, count(stdout, "  progress: files 40, objects 80/200, bytes 7516192768/21474836480 %(35%.0%%%)"))
    assert.are.equal(1, count(stdout, "  completed: files 100"))
    assert.matches("job completed: files 100", stdout, 1, true)
    local queued_at = stdout:find("queued", 1, true)
    local completed_at = stdout:find("completed:", 1, true)
    assert.is_true(queued_at < completed_at)
    assert.is_nil((stdout .. stderr):find(TOKEN, 1, true))
  end)

  it("polls through throttling", function()
    local status, _, stderr = watch("job-completes")
    assert.are.equal(0, status, stderr)

    local requests = server.requests()
    local retried = 0
    for _, request in ipairs(requests) do
      assert.are.equal("Bearer " .. TOKEN, request.headers.authorization)
      if request.headers["retry-attempt"] == "1" then
        retried = retried + 1
      end
    end
    assert.are.equal(1, retried)
  end)

  it("exits 3 when a user cancels", function()
    local status, stdout, stderr = watch("job-cancelled")
    assert.are.equal(3, status)
    assert.matches("cancelled by a user", stdout, 1, true)
    assert.matches("watch-job: job was cancelled by a user", stderr, 1, true)
  end)

  it("reports the error behind a system cancel", function()
    local status, stdout, stderr = watch("job-cancelled-by-system")
    assert.are.equal(3, status)
    -- The decoder may normalise the enum casing, so compare in lower case.
    assert.matches("error (fatalerror): operation canceled. (code -2147213196)", stdout:lower(), 1, true)
    assert.matches("job was cancelled by the service after a system error", stderr, 1, true)
    assert.matches("Operation canceled.", stderr, 1, true)
    assert.is_nil(stdout:find("job completed", 1, true))
  end)

  it("exits 4 when the job is deleted", function()
    local status, stdout, stderr = watch("job-deleted")
    assert.are.equal(4, status)
    assert.matches("  deleted\n", stdout, 1, true)
    assert.matches("watch-job: job was deleted", stderr, 1, true)
  end)

  it("exits 1 with the reason when events expire", function()
    local status, _, stderr = watch("job-expired")
    assert.are.equal(1, status)
    assert.matches("progress events have expired", stderr, 1, true)
    assert.matches("HTTP 404 Not Found, code migrationNotFound (inner codes jobProgressExpired)", stderr, 1, true)
    assert.is_nil(stderr:find(TOKEN, 1, true))
  end)

  it("reads the token from --token-env", function()
    server = mock.start{ scenario = "job-deleted" }
    local status, _, stderr = run_watch({
      "--container", mock.CONTAINER_ID, "--job", mock.JOB_ID,
      "--base-url", server.base_url, "--interval", "0", "--token-env", "MY_GRAPH_TOKEN",
    }, { MY_GRAPH_TOKEN = TOKEN .. "-custom" })
    assert.are.equal(4, status, stderr)
    assert.are.equal("Bearer " .. TOKEN .. "-custom", server.requests()[1].headers.authorization)
  end)

  it("exits 2 without a token", function()
    local status, stdout, stderr = run_watch({ "--container", "c", "--job", "j" })
    assert.are.equal(2, status)
    assert.are.equal("", stdout)
    assert.matches("environment variable GRAPH_TOKEN is not set", stderr, 1, true)
  end)

  it("exits 2 without a container", function()
    local status, _, stderr = run_watch({ "--job", "j" }, { GRAPH_TOKEN = TOKEN })
    assert.are.equal(2, status)
    assert.matches("option --container is required", stderr, 1, true)
  end)

  it("exits 2 for an invalid interval", function()
    local status, _, stderr = run_watch({ "--container", "c", "--job", "j", "--interval", "soon" },
      { GRAPH_TOKEN = TOKEN })
    assert.are.equal(2, status)
    assert.matches("option --interval must be a number of seconds of at least 0, got soon", stderr, 1, true)
  end)

  it("exits 2 for plain http to a remote host", function()
    local status, _, stderr = run_watch({ "--container", "c", "--job", "j",
      "--base-url", "http://graph.example/v1.0" }, { GRAPH_TOKEN = TOKEN })
    assert.are.equal(2, status)
    assert.matches("must use https", stderr, 1, true)
  end)
end)
