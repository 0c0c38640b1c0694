--- Mock Microsoft Graph server for the client specs, and helpers to run it.
--
-- Run as a script, it serves one scripted scenario on 127.0.0.1 and prints
-- "PORT <number>" on stdout once it listens:
--
--     lua5.4 spec/support/mock_graph.lua --scenario pages [--log FILE]
--       [--cert FILE --key FILE] [--delay SECONDS]
--       [--max-requests N] [--max-seconds S]
--
-- It serves one connection at a time with `Connection: close`, appends one
-- JSON line per request (method, target, lower-case headers) to the log
-- file, and exits by itself after `--max-requests` requests (default 50) or
-- `--max-seconds` seconds (default 60). With `--cert` and `--key` it serves
-- TLS.
--
-- Required as the module `support.mock_graph`, it returns `start`, which
-- runs the script as a subprocess and returns a handle with `port`,
-- `base_url`, `requests()` and `stop()`.

local MODULE_NAME = ...

local CONTAINER_ID = "b!Qm9n-mockContainer_01"
local JOB_ID = "5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60"
local ENCODED_CONTAINER_ID = "b%21Qm9n-mockContainer_01"
local EVENTS_PATH = "/v1.0/storage/fileStorage/containers/" .. ENCODED_CONTAINER_ID
  .. "/migrationJobs/" .. JOB_ID .. "/progressEvents"

-- The Retry-After date of the "throttle-date" scenario and the instant 5
-- seconds before it, which specs use as their fake clock.
local RETRY_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
local RETRY_DATE_EPOCH = 1445412480

---------------------------------------------------------------------------
-- Helpers for specs (module mode)
---------------------------------------------------------------------------

if type(MODULE_NAME) == "string" and MODULE_NAME:match("mock_graph$") then
  local cjson = require "cjson"

  local helper = {
    CONTAINER_ID = CONTAINER_ID,
    JOB_ID = JOB_ID,
    EVENTS_PATH = EVENTS_PATH,
    RETRY_DATE = RETRY_DATE,
    RETRY_DATE_EPOCH = RETRY_DATE_EPOCH,
  }

  local script_path = debug.getinfo(1, "S").source:gsub("^@", "")

  local function shell_quote(text)
    return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
  end

  local function read_file(path)
    local handle = io.open(path, "r")
    if not handle then
      return ""
    end
    local text = handle:read("a")
    handle:close()
    return text
  end

  --- Start the mock server as a subprocess.
  -- @tparam table options `scenario` (required), `cert` and `key` (serve
  --   TLS), `delay` (seconds the "slow" scenario waits), `max_requests`
  -- @treturn table handle with `port`, `base_url`, `requests()` and `stop()`
  function helper.start(options)
    local log_path = os.tmpname()
    local error_path = os.tmpname()
    local words = {
      os.getenv("LUA") or "lua5.4", shell_quote(script_path),
      "--scenario", shell_quote(options.scenario),
      "--log", shell_quote(log_path),
    }
    if options.cert then
      words[#words + 1] = "--cert " .. shell_quote(options.cert) .. " --key " .. shell_quote(options.key)
    end
    if options.delay then
      words[#words + 1] = "--delay " .. tostring(options.delay)
    end
    if options.max_requests then
      words[#words + 1] = "--max-requests " .. tostring(options.max_requests)
    end
    -- "echo $$" prints the shell's process id, and exec keeps that id for
    -- the server, so stop() can end exactly this process.
    local command = "echo $$; exec " .. table.concat(words, " ") .. " 2>" .. shell_quote(error_path)
    local pipe = assert(io.popen(command, "r"))
    local pid = pipe:read("l")
    local port_line = pipe:read("l")
    local port = port_line and tonumber(port_line:match("^PORT (%d+)$"))
    if not (pid and port) then
      pipe:close()
      error("mock Graph server did not start: " .. read_file(error_path), 2)
    end

    local scheme = options.cert and "https" or "http"
    local handle = {
      port = port,
      pid = pid,
      origin = scheme .. "://127.0.0.1:" .. port,
      base_url = scheme .. "://127.0.0.1:" .. port .. "/v1.0",
      log_path = log_path,
    }

    --- Return the requests the server has logged so far, oldest first.
    function handle.requests()
      local requests = {}
      for line in read_file(log_path):gmatch("[^\n]+") do
        requests[#requests + 1] = cjson.decode(line)
      end
      return requests
    end

    --- Stop the server if it still runs and remove its files.
    function handle.stop()
      if handle.stopped then
        return
      end
      handle.stopped = true
      os.execute("kill " .. pid .. " 2>/dev/null")
      pipe:close()
      os.remove(log_path)
      os.remove(error_path)
    end

    return handle
  end

  return helper
end

---------------------------------------------------------------------------
-- Server (script mode)
---------------------------------------------------------------------------

local socket = require "socket"
local cjson = require "cjson"

local options = {
  scenario = "pages",
  max_requests = 50,
  max_seconds = 60,
  delay = 5,
}
do
  local arguments = { ... }
  local index = 1
  while index <= #arguments do
    local name, value = arguments[index], arguments[index + 1]
    local key = name:match("^%-%-([%w-]+)$")
    if not key or value == nil then
      io.stderr:write("mock_graph: invalid argument ", tostring(name), "\n")
      os.exit(2)
    end
    key = key:gsub("-", "_")
    options[key] = tonumber(value) or value
    index = index + 2
  end
end

local STATUS_TEXT = {
  [200] = "OK", [302] = "Found", [400] = "Bad Request", [401] = "Unauthorized",
  [404] = "Not Found", [429] = "Too Many Requests", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

local function graph_error(status, code, message, inner_code, extra_headers)
  local inner = {
    date = "2025-11-20T14:40:02",
    ["request-id"] = "d6a8b9fe-4811-4afb-97ee-29d5b8a79d3e",
    ["client-request-id"] = "e7b9c0af-5922-4b0c-a8ff-3ae6c9b8ae4f",
  }
  inner.code = inner_code
  local headers = { ["content-type"] = "application/json" }
  for name, value in pairs(extra_headers or {}) do
    headers[name] = value
  end
  return {
    status = status,
    headers = headers,
    body = cjson.encode({ error = { code = code, message = message, innerError = inner } }),
  }
end

-- Builds the page text by hand because lua-cjson 2.1.0 encodes an empty
-- table as an object, not as the empty "value" array.
local function json_page(events, next_link, context)
  local parts = {}
  if context then
    parts[#parts + 1] = '"@odata.context":' .. cjson.encode(context)
  end
  local items = {}
  for index, object in ipairs(events) do
    items[index] = cjson.encode(object)
  end
  parts[#parts + 1] = '"value":[' .. table.concat(items, ",") .. "]"
  if next_link then
    parts[#parts + 1] = '"@odata.nextLink":' .. cjson.encode(next_link)
  end
  return {
    status = 200,
    headers = { ["content-type"] = "application/json" },
    body = "{" .. table.concat(parts, ",") .. "}",
  }
end

local event_counter = 0

local function event(kind, fields)
  event_counter = event_counter + 1
  local object = {
    ["@odata.type"] = "#microsoft.graph.sharePointMigration" .. kind .. "Event",
    id = string.format("0f3a9c21-7b44-0d2e-6a11-%012d", event_counter),
    jobId = JOB_ID,
    eventDateTime = string.format("2025-11-20T14:%02d:11.207Z", event_counter % 60),
    correlationId = "9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
  }
  for name, value in pairs(fields or {}) do
    object[name] = value
  end
  return object
end

local function progress(files, bytes, completed, errors)
  return event("JobProgress", {
    isCompleted = completed, filesProcessed = files, bytesProcessed = bytes,
    objectsProcessed = files * 2, totalExpectedObjects = 200, totalExpectedBytes = 21474836480,
    totalErrors = errors or 0, totalWarnings = 0, totalRetryCount = 0,
  })
end

-- Three pages of events. The first next link carries a percent-encoded
-- skip token and the second a raw "!" in the path, so a client that
-- rewrites next links gets a 400 response.
local function three_pages(context, target)
  local base = context.origin .. EVENTS_PATH
  if target == EVENTS_PATH then
    return json_page({
      event("JobQueued"),
      event("JobStart", { isRestarted = false, totalRetryCount = 0 }),
    }, base .. "?$skiptoken=Mg%3D%3D", context.origin .. "/v1.0/$metadata#progressEvents")
  elseif target == EVENTS_PATH .. "?$skiptoken=Mg%3D%3D" then
    return json_page({ progress(40, 7516192768, false) },
      context.origin .. "/v1.0/storage/fileStorage/containers/b!Qm9n-mockContainer_01/migrationJobs/"
        .. JOB_ID .. "/progressEvents?$skiptoken=Mw")
  elseif target == "/v1.0/storage/fileStorage/containers/b!Qm9n-mockContainer_01/migrationJobs/"
      .. JOB_ID .. "/progressEvents?$skiptoken=Mw" then
    return json_page({ progress(100, 9663676416, true) })
  end
  return graph_error(400, "invalidRequest", "Unexpected request target " .. target)
end

local function first_then_pages(first_responses)
  return function(context, target)
    local response = first_responses[context.count]
    if response then
      return response
    end
    return three_pages(context, target)
  end
end

-- Watch scenarios: each poll (a request without a query) reveals more of
-- the timeline. Every page contains at most two events.
local function watch_scenario(timeline, extra)
  local polls = 0
  return function(context, target)
    local path, query = target:match("^([^?]*)%??(.*)$")
    if path ~= EVENTS_PATH then
      return graph_error(404, "itemNotFound", "Unexpected path " .. path)
    end
    if query == "" then
      polls = polls + 1
      if extra and extra[polls] then
        local response = extra[polls]
        extra[polls] = nil
        polls = polls - 1
        return response
      end
    end
    local visible = timeline[math.min(polls, #timeline)]
    local offset = tonumber(query:match("skiptoken=(%d+)") or "0")
    local events = {}
    for index = offset + 1, math.min(offset + 2, #visible) do
      events[#events + 1] = visible[index]
    end
    local next_link
    if offset + 2 < #visible then
      next_link = context.origin .. EVENTS_PATH .. "?$skiptoken=" .. (offset + 2)
    end
    return json_page(events, next_link)
  end
end

local function prefix_of(list, count)
  local result = {}
  for index = 1, count do
    result[index] = list[index]
  end
  return result
end

local scenarios = {}

scenarios.pages = three_pages

scenarios["throttle-seconds"] = first_then_pages{
  graph_error(429, "TooManyRequests", "Please retry again later.", "throttledRequest", { ["retry-after"] = "7" }),
}

scenarios["throttle-date"] = first_then_pages{
  graph_error(429, "TooManyRequests", "Please retry again later.", "throttledRequest",
    { ["retry-after"] = RETRY_DATE }),
}

scenarios["unavailable"] = first_then_pages{
  graph_error(503, "serviceNotAvailable", "The service is busy.", nil, { ["retry-after"] = "1" }),
}

scenarios["gateway-timeout"] = first_then_pages{
  graph_error(504, "UnknownError", "Gateway timeout."),
  graph_error(504, "UnknownError", "Gateway timeout."),
}

scenarios["always-throttled"] = function()
  return graph_error(429, "TooManyRequests", "Please retry again later.", "activityLimitReached",
    { ["retry-after"] = "1" })
end

scenarios["graph-error"] = function()
  return graph_error(404, "migrationNotFound", "The progress of the migration job has expired.",
    "jobProgressExpired", { ["request-id"] = "f8cad1b0-6a33-4c1d-b900-4bf7dac9bf50" })
end

scenarios["bad-gateway-html"] = function()
  return {
    status = 502,
    headers = { ["content-type"] = "text/html" },
    body = "<html><body><h1>502 Bad Gateway</h1>\n<p>upstream failed</p></body></html>",
  }
end

scenarios["next-loop"] = function(context, target)
  local base = context.origin .. EVENTS_PATH
  if target == EVENTS_PATH then
    return json_page({ event("JobQueued") }, base .. "?$skiptoken=two")
  end
  return json_page({ event("JobStart", { isRestarted = false, totalRetryCount = 0 }) }, base)
end

scenarios["next-other-host"] = function(context)
  return json_page({ event("JobQueued") },
    "http://localhost:" .. context.port .. EVENTS_PATH .. "?$skiptoken=elsewhere")
end

scenarios["slow"] = function(context, target)
  socket.sleep(options.delay)
  return three_pages(context, target)
end

scenarios["malformed"] = function()
  return {
    status = 200,
    headers = { ["content-type"] = "application/json" },
    body = '{"value":[{"@odata.type":"#microsoft.graph.sharePointMigrationJobQueuedEvent","id":',
  }
end

scenarios["redirect"] = function(context)
  return {
    status = 302,
    headers = { location = context.origin .. "/v1.0/elsewhere", ["content-type"] = "text/plain" },
    body = "moved",
  }
end

-- Returns a body that quotes the Authorization header, as a careless
-- proxy might, so specs can check that the client redacts the token.
scenarios["echo-token"] = function(_, _, request)
  return {
    status = 401,
    headers = { ["content-type"] = "application/json" },
    body = cjson.encode({ error = {
      code = "InvalidAuthenticationToken",
      message = "Token rejected: " .. tostring(request.headers.authorization),
    } }),
  }
end

do
  local queued = event("JobQueued")
  local start = event("JobStart", { isRestarted = false, totalRetryCount = 0 })
  local running = progress(40, 7516192768, false)
  local done = progress(100, 9663676416, true)
  local timeline = { queued, start, running, done }
  scenarios["job-completes"] = watch_scenario({
    prefix_of(timeline, 1), prefix_of(timeline, 3), prefix_of(timeline, 4),
  }, {
    [2] = graph_error(429, "TooManyRequests", "Please retry again later.", nil, { ["retry-after"] = "0" }),
  })

  local cancelled = event("JobCancelled", { isCancelledByUser = true, totalRetryCount = 0 })
  scenarios["job-cancelled"] = watch_scenario({
    { queued, start }, { queued, start, running, cancelled },
  })

  local fatal = event("JobError", {
    errorLevel = "FatalError", totalRetryCount = 2, objectType = "UnknownFutureValue",
    error = { code = "-2147213196", message = "Operation canceled.", errorType = "microsoft.SharePoint.SPException" },
  })
  local system_cancel = event("JobCancelled", { isCancelledByUser = false, totalRetryCount = 2 })
  local final = progress(60, 8000000000, true, 1)
  scenarios["job-cancelled-by-system"] = watch_scenario({
    { queued, start, running, fatal, system_cancel, final },
  })

  local deleted = event("JobDeleted")
  scenarios["job-deleted"] = watch_scenario({ { queued }, { queued, deleted } })

  scenarios["job-expired"] = watch_scenario({ { queued, start } }, {
    [2] = graph_error(404, "migrationNotFound", "The progress of the migration job has expired.",
      "jobProgressExpired"),
  })
end

local handler = scenarios[options.scenario]
if not handler then
  io.stderr:write("mock_graph: unknown scenario ", tostring(options.scenario), "\n")
  os.exit(2)
end

local tls_context
if options.cert then
  local ssl = require "ssl"
  tls_context = assert(ssl.newcontext{
    mode = "server", protocol = "any",
    certificate = options.cert, key = options.key,
    options = { "all", "no_sslv2", "no_sslv3" },
  })
end

local log_file = options.log and assert(io.open(options.log, "a"))

local function log(entry)
  if log_file then
    log_file:write(cjson.encode(entry), "\n")
    log_file:flush()
  end
end

local function read_request(connection)
  local request_line, read_error = connection:receive("*l")
  if not request_line then
    return nil, read_error
  end
  local method, target = request_line:match("^(%u+) (%S+) HTTP/1%.%d$")
  if not method then
    return nil, "invalid request line " .. request_line
  end
  local headers = {}
  while true do
    local line = connection:receive("*l")
    if not line or line == "" then
      break
    end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      headers[name:lower()] = value
    end
  end
  return { method = method, target = target, headers = headers }
end

local function write_response(connection, response)
  local lines = {
    string.format("HTTP/1.1 %d %s", response.status, STATUS_TEXT[response.status] or "Status"),
    "Content-Length: " .. #response.body,
    "Connection: close",
  }
  for name, value in pairs(response.headers or {}) do
    lines[#lines + 1] = name .. ": " .. value
  end
  connection:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. response.body)
end

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
port = tonumber(port)
server:settimeout(0.2)
io.stdout:write("PORT ", port, "\n")
io.stdout:flush()

local scheme = tls_context and "https" or "http"
local context = { port = port, origin = scheme .. "://127.0.0.1:" .. port, count = 0 }
local started = socket.gettime()

while context.count < options.max_requests and socket.gettime() - started < options.max_seconds do
  local connection = server:accept()
  if connection then
    connection:settimeout(5)
    local ready = true
    if tls_context then
      local ssl = require "ssl"
      connection = assert(ssl.wrap(connection, tls_context))
      local ok, handshake_error = connection:dohandshake()
      if not ok then
        log({ tls_error = tostring(handshake_error) })
        ready = false
      end
    end
    local request = ready and read_request(connection)
    if request then
      context.count = context.count + 1
      log(request)
      local ok, response = pcall(handler, context, request.target, request)
      if not ok then
        response = graph_error(500, "mockFailure", tostring(response))
      end
      write_response(connection, response)
    end
    connection:close()
  end
end

server:close()
if log_file then
  log_file:close()
end
