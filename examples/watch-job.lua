#!/usr/bin/env lua5.4
--- Watch a SharePoint migration job until it completes, is cancelled or is deleted.
--
-- Usage:
--
--     GRAPH_TOKEN=... lua5.4 examples/watch-job.lua --container ID --job ID
--       [--base-url URL] [--interval SECONDS] [--token-env NAME]
--
-- The script lists the job's progress events every `--interval` seconds,
-- prints each new event once, and stops at the first terminal event.
-- Exit status: 0 when the job completed, 1 when a request failed (the
-- message names the reason), 2 for invalid arguments, 3 when the job was
-- cancelled and 4 when it was deleted.

local client = require "msgraph.migration.client"
local migration = require "msgraph.migration"
local socket = require "socket"

local EXIT_COMPLETED = 0
local EXIT_FAILED = 1
local EXIT_USAGE = 2
local EXIT_CANCELLED = 3
local EXIT_DELETED = 4

local USAGE = [[
usage: watch-job.lua --container ID --job ID [options]

Polls the progress events of a SharePoint migration job through Microsoft
Graph and prints them until the job completes, is cancelled or is deleted.

options:
  --container ID     file storage container id (required)
  --job ID           migration job id (required)
  --base-url URL     Graph base URL (default https://graph.microsoft.com/v1.0)
  --interval S       seconds between polls (default 15)
  --token-env NAME   environment variable with the access token (default GRAPH_TOKEN)
  --help             print this text

exit status: 0 completed, 1 request failed, 2 invalid arguments,
3 cancelled, 4 deleted
]]

local function fail_usage(message)
  io.stderr:write("watch-job: ", message, "\n\n", USAGE)
  os.exit(EXIT_USAGE)
end

local function parse_arguments(arguments)
  local options = { interval = 15, token_env = "GRAPH_TOKEN" }
  local names = {
    ["--container"] = "container", ["--job"] = "job", ["--base-url"] = "base_url",
    ["--interval"] = "interval", ["--token-env"] = "token_env",
  }
  local index = 1
  while index <= #arguments do
    local argument = arguments[index]
    if argument == "--help" or argument == "-h" then
      io.stdout:write(USAGE)
      os.exit(0)
    end
    local key = names[argument]
    if not key then
      fail_usage("unknown argument " .. argument)
    end
    local value = arguments[index + 1]
    if value == nil then
      fail_usage("option " .. argument .. " is missing its value")
    end
    options[key] = value
    index = index + 2
  end

  if not options.container or options.container == "" then
    fail_usage("option --container is required")
  end
  if not options.job or options.job == "" then
    fail_usage("option --job is required")
  end
  local interval = tonumber(options.interval)
  if not interval or interval < 0 then
    fail_usage("option --interval must be a number of seconds of at least 0, got " .. tostring(options.interval))
  end
  options.interval = interval
  return options
end

-- Reads a property that may be missing from the event. Event objects raise
-- for names their type lacks, and optional properties may be absent.
local function property(event, name)
  return migration.get(event, name)
end

-- Formats a counter without a decimal point, also when it arrives as a
-- float with an integral value.
local function count_text(value)
  return tostring(math.tointeger(value) or value)
end

local function describe_progress(event)
  local parts = {}
  local files = property(event, "filesProcessed")
  if files then
    parts[#parts + 1] = "files " .. count_text(files)
  end
  local objects, expected_objects = property(event, "objectsProcessed"), property(event, "totalExpectedObjects")
  if objects then
    parts[#parts + 1] = "objects " .. count_text(objects)
      .. (expected_objects and ("/" .. count_text(expected_objects)) or "")
  end
  local bytes, expected_bytes = property(event, "bytesProcessed"), property(event, "totalExpectedBytes")
  if bytes then
    local text = "bytes " .. count_text(bytes)
    if expected_bytes and expected_bytes > 0 then
      text = text .. string.format("/%s (%.1f%%)", count_text(expected_bytes), 100 * bytes / expected_bytes)
    end
    parts[#parts + 1] = text
  end
  parts[#parts + 1] = "errors " .. count_text(property(event, "totalErrors") or 0)
  parts[#parts + 1] = "warnings " .. count_text(property(event, "totalWarnings") or 0)
  return table.concat(parts, ", ")
end

local function describe_error_event(event)
  local level = property(event, "errorLevel") or "error"
  local text = "error (" .. tostring(level) .. ")"
  local object_url = property(event, "objectUrl")
  if object_url then
    text = text .. " on " .. object_url
  end
  local public_error = property(event, "error")
  if public_error then
    local code, message = property(public_error, "code"), property(public_error, "message")
    text = text .. ": " .. tostring(message or "no message") .. (code and (" (code " .. code .. ")") or "")
  end
  return text
end

-- Returns one line for an event, and the outcome when the event ends the
-- job ("completed", "cancelled" or "deleted").
local function describe_event(event)
  local kind = migration.type(event)
  if kind == "MigrationJobQueuedEvent" then
    return "queued"
  elseif kind == "MigrationJobStartEvent" then
    if property(event, "isRestarted") then
      return "restarted (retry " .. count_text(property(event, "totalRetryCount") or 0) .. ")"
    end
    return "started"
  elseif kind == "MigrationJobPostponedEvent" then
    return string.format("postponed: %s; next pickup %s; %s jobs in queue",
      tostring(property(event, "reason") or "no reason given"),
      tostring(property(event, "nextPickupDateTime") or "unknown"),
      count_text(property(event, "jobsInQueue") or "unknown"))
  elseif kind == "MigrationJobProgressEvent" then
    if property(event, "isCompleted") then
      return "completed: " .. describe_progress(event), "completed"
    end
    return "progress: " .. describe_progress(event)
  elseif kind == "MigrationJobErrorEvent" then
    return describe_error_event(event)
  elseif kind == "MigrationJobCancelledEvent" then
    if property(event, "isCancelledByUser") then
      return "cancelled by a user", "cancelled"
    end
    return "cancelled by the service after a system error", "cancelled"
  elseif kind == "MigrationJobDeletedEvent" then
    return "deleted", "deleted"
  elseif kind == "MigrationFinishManifestFileUploadEvent" then
    return "manifest file uploaded: " .. tostring(property(event, "manifestFileName") or "unknown")
  end
  return "event of unknown type " .. tostring(kind or property(event, "@odata.type"))
end

local options = parse_arguments(arg)

local token = os.getenv(options.token_env)
if not token or token == "" then
  fail_usage("environment variable " .. options.token_env .. " is not set; export a Graph access token in it"
    .. " or name another variable with --token-env")
end

local ok_client, graph = pcall(client.new, { token = token, base_url = options.base_url })
if not ok_client then
  fail_usage(tostring(graph))
end

io.stdout:setvbuf("line")
print(string.format("watching job %s in container %s (polling every %g s)", options.job, options.container,
  options.interval))

local seen = {}
local last_error_message
local outcome, outcome_line

while not outcome do
  local ok, events = pcall(graph.list_progress_events, graph, options.container, options.job)
  if not ok then
    local reason = tostring(events)
    if client.is_error(events) and events:has_code("jobProgressExpired") then
      reason = "the job's progress events have expired (Graph keeps them for four days): " .. reason
    end
    io.stderr:write("watch-job: failed: ", reason, "\n")
    os.exit(EXIT_FAILED)
  end

  for _, event in ipairs(events) do
    -- An event without an id is new on every poll, so key it by its JSON instead.
    local id = property(event, "id") or migration.encode(event)
    if not seen[id] then
      seen[id] = true
      local line, ends_job = describe_event(event)
      print(string.format("%s  %s", tostring(property(event, "eventDateTime")), line))
      if migration.type(event) == "MigrationJobErrorEvent" then
        last_error_message = line
      end
      -- The first terminal event decides: Graph may send a final progress
      -- event with isCompleted after a cancellation.
      if ends_job and not outcome then
        outcome, outcome_line = ends_job, line
      end
    end
  end

  if not outcome then
    socket.sleep(options.interval)
  end
end

if outcome == "completed" then
  print("job completed: " .. outcome_line:gsub("^completed: ", ""))
  os.exit(EXIT_COMPLETED)
elseif outcome == "cancelled" then
  local reason = "job was " .. outcome_line
  if last_error_message then
    reason = reason .. "; last " .. last_error_message
  end
  io.stderr:write("watch-job: ", reason, "\n")
  os.exit(EXIT_CANCELLED)
else
  io.stderr:write("watch-job: job was deleted\n")
  os.exit(EXIT_DELETED)
end
