#!/usr/bin/env lua5.4
--- Prints a report per migration job from a progressEvents page.
--
-- Usage: lua5.4 examples/job-report.lua [FILE...]
-- Reads progressEvents pages from the FILEs, or from standard input when no
-- FILE is given or FILE is "-". A job may span pages. For each job it prints
-- its events in time order and a verdict: how it ended (or its current state),
-- after how many retries, and when. Exits with 1 when a page cannot be read
-- or decoded.

local migration = require "msgraph.migration"

local function read_input(path)
  if path == nil or path == "-" then
    return io.read("a")
  end
  local file, err = io.open(path, "rb")
  if not file then
    return nil, err
  end
  local text, read_err = file:read("a")
  file:close()
  return text, read_err
end

local function count(n, singular, plural)
  return ("%d %s"):format(n, n == 1 and singular or plural)
end

-- One line describing an event, without its time.
local function describe(event)
  local kind = migration.type(event)
  if kind == "MigrationJobQueuedEvent" then
    return "queued"
  elseif kind == "MigrationJobStartEvent" then
    return event.isRestarted and ("restarted (retry %d)"):format(event.totalRetryCount or 0) or "started"
  elseif kind == "MigrationJobPostponedEvent" then
    return ("postponed until %s: %s (%s jobs in queue)"):format(
      event.nextPickupDateTime or "unknown", event.reason or "no reason given", tostring(event.jobsInQueue or "?"))
  elseif kind == "MigrationJobProgressEvent" then
    return ("%s: %s of %s objects, %s bytes, %s, %s"):format(
      event.isCompleted and "finished" or "progress",
      tostring(event.objectsProcessed or "?"), tostring(event.totalExpectedObjects or "?"),
      tostring(event.bytesProcessed or "?"), count(event.totalErrors or 0, "error", "errors"),
      count(event.totalWarnings or 0, "warning", "warnings"))
  elseif kind == "MigrationJobErrorEvent" then
    local err = event.error
    local object = event.objectType
    if object == nil or object == "unknownFutureValue" then
      object = "an object of unknown type"
    end
    return ("%s on %s%s: %s (code %s)"):format(
      event.errorLevel or "unknownFutureValue", object,
      event.objectUrl and (" " .. event.objectUrl) or "",
      err and err.message or "no message", err and err.code or "none")
  elseif kind == "MigrationJobCancelledEvent" then
    if event.isCancelledByUser == nil then
      return "cancelled (initiator not reported)"
    end
    return event.isCancelledByUser and "cancelled by a user" or "cancelled by a system error"
  elseif kind == "MigrationJobDeletedEvent" then
    return "deleted"
  elseif kind == "MigrationFinishManifestFileUploadEvent" then
    return "manifest uploaded: " .. (event.manifestFileName or "?")
  end
  return "event of type " .. (event:odata_type() or "unknown")
end

local function verdict(job)
  local cancelled = job.cancelled
  if cancelled then
    local initiator = cancelled.by_user and "by a user" or "by a system error"
    if cancelled.by_user == nil then
      initiator = "(initiator not reported)"
    end
    local text = ("cancelled %s after %s at %s"):format(initiator, count(cancelled.retries or 0, "retry", "retries"),
      cancelled.time)
    if job.state == "deleted" then
      text = text .. ", then deleted"
    end
    return text
  end
  if job.state == "completed" then
    return ("completed after %s at %s"):format(count(job.retries, "retry", "retries"), job.progress.time)
  end
  return job.state
end

-- Control characters from the page must not reach the terminal as escape sequences.
local function printable(text)
  return (text:gsub("[%c\127]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

local function report(events)
  if #events == 0 then
    print("No events.")
    return
  end
  for _, job in ipairs(migration.summarize(events)) do
    print(printable(("Job %s: %s"):format(job.job_id or "(no job id)", count(#job.events, "event", "events"))))
    for _, event in ipairs(job.events) do
      print(printable(("  %-30s %s"):format(event.eventDateTime or "(no time)", describe(event))))
    end
    local errors = {}
    for _, level in ipairs({ "fatalError", "error", "warning", "important", "unknownFutureValue" }) do
      if job.errors[level] > 0 then
        errors[#errors + 1] = ("%d %s"):format(job.errors[level], level)
      end
    end
    if #errors > 0 then
      print("  Errors: " .. table.concat(errors, ", "))
    end
    if job.restarts > 0 then
      print("  Restarts: " .. job.restarts)
    end
    if job.progress then
      local p = job.progress
      print(("  Last progress: %s of %s objects, %s of %s bytes at %s"):format(
        tostring(p.objectsProcessed or "?"), tostring(p.totalExpectedObjects or "?"),
        tostring(p.bytesProcessed or "?"), tostring(p.totalExpectedBytes or "?"), p.time or "(no time)"))
    end
    print(printable("  Verdict: " .. verdict(job)))
    print()
  end
end

-- Pages may come in any order: the summary sorts each job's events by time.
local paths = #arg > 0 and arg or { "-" }
local events = {}
for _, path in ipairs(paths) do
  local name = path == "-" and "stdin" or path
  local text, err = read_input(path)
  if not text then
    io.stderr:write("job-report: cannot read ", name, ": ", tostring(err), "\n")
    os.exit(1)
  end

  local page, decode_err = migration.safe.decode_page(text)
  if not page then
    io.stderr:write("job-report: ", name, ": ", decode_err, "\n")
    os.exit(1)
  end
  table.move(page, 1, #page, #events + 1, events)
end

report(events)
