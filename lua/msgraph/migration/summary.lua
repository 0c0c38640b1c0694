--- Job summaries over progress events.
--
-- Events may come from one page or many, in any order: they are grouped by
-- `jobId` and sorted by `eventDateTime` before they are read.
--
-- @module msgraph.migration.summary

local core = require "msgraph.migration.core"

local M = {}

local COUNTERS = {
  "bytesProcessed", "bytesProcessedOnlyCurrentVersion", "cpuDurationMs", "filesProcessed",
  "filesProcessedOnlyCurrentVersion", "objectsProcessed", "sqlDurationMs", "sqlQueryCount",
  "totalDurationMs", "totalErrors", "totalExpectedBytes", "totalExpectedObjects",
  "totalWarnings", "waitTimeOnSqlThrottlingMs",
}

local ERROR_LEVELS = { "important", "warning", "error", "fatalError", "unknownFutureValue" }

local function is(event, type_name)
  return core.is_a(event, type_name)
end

local function new_summary(job_id)
  local errors = {}
  for _, level in ipairs(ERROR_LEVELS) do
    errors[level] = 0
  end
  return {
    job_id = job_id,
    state = "unknown",
    events = {},
    retries = 0,
    restarts = 0,
    errors = errors,
    error_events = {},
  }
end

-- Applies one event, in time order, to the summary of its job.
local function apply(job, event)
  job.events[#job.events + 1] = event
  job.first_time = job.first_time or event.eventDateTime
  job.last_time = event.eventDateTime or job.last_time

  local retries = core.get(event, "totalRetryCount")
  if retries and retries > job.retries then
    job.retries = retries
  end

  -- Cancellation and deletion end a job: later events (a final progress
  -- report) do not change its state.
  local final = job.state == "deleted" or job.state:find("^cancelled")

  if is(event, "MigrationJobQueuedEvent") then
    if not final then job.state = "queued" end
  elseif is(event, "MigrationJobStartEvent") then
    if event.isRestarted then job.restarts = job.restarts + 1 end
    if not final then job.state = "running" end
  elseif is(event, "MigrationJobPostponedEvent") then
    job.postponed = {
      reason = event.reason,
      next_pickup = event.nextPickupDateTime,
      jobs_in_queue = event.jobsInQueue,
      time = event.eventDateTime,
    }
    if not final then job.state = "postponed" end
  elseif is(event, "MigrationJobProgressEvent") then
    local progress = { time = event.eventDateTime, is_completed = event.isCompleted }
    for _, name in ipairs(COUNTERS) do
      progress[name] = event[name]
    end
    job.progress = progress
    if not final then job.state = event.isCompleted and "completed" or "running" end
  elseif is(event, "MigrationJobErrorEvent") then
    local level = event.errorLevel or "unknownFutureValue"
    job.errors[level] = job.errors[level] + 1
    job.error_events[#job.error_events + 1] = event
  elseif is(event, "MigrationJobCancelledEvent") then
    job.cancelled = {
      by_user = event.isCancelledByUser,
      retries = event.totalRetryCount,
      time = event.eventDateTime,
    }
    -- A null isCancelledByUser leaves the initiator unknown: the state is then plain "cancelled".
    if job.state ~= "deleted" then
      if event.isCancelledByUser == nil then
        job.state = "cancelled"
      else
        job.state = event.isCancelledByUser and "cancelled by user" or "cancelled by system"
      end
    end
  elseif is(event, "MigrationJobDeletedEvent") then
    job.state = "deleted"
  elseif is(event, "MigrationFinishManifestFileUploadEvent") then
    job.manifests = job.manifests or {}
    job.manifests[#job.manifests + 1] = event.manifestFileName
  end
end

--- Summarizes each job that the events mention.
-- @tparam table events events, from one or more pages, in any order
-- @treturn table summaries in order of each job's first event. A summary has
-- `job_id` and `state`: queued, running, postponed, completed, cancelled by
-- user, cancelled by system, cancelled (initiator null), deleted or unknown.
-- It also has `events` sorted by time,
-- `retries` (highest totalRetryCount), `restarts`, `errors` (count per
-- errorLevel), `error_events`, `progress` (the latest progress counters),
-- `cancelled` (`by_user`, `retries`, `time`), `postponed`, `manifests`,
-- `first_time` and `last_time` (eventDateTime text)
function M.summarize(events)
  if type(events) ~= "table" then
    error("bad argument #1 to 'summarize' (table of events expected, got " .. type(events) .. ")", 2)
  end

  local sorted = {}
  for i, event in ipairs(events) do
    if not core.is_a(event, "MigrationEvent") then
      error(("bad argument #1 to 'summarize' (item %d is not a migration event)"):format(i), 2)
    end
    sorted[i] = event
  end
  table.sort(sorted, core.by_time)

  local jobs, order = {}, {}
  for _, event in ipairs(sorted) do
    local id = event.jobId or ""
    if not jobs[id] then
      jobs[id] = new_summary(event.jobId)
      order[#order + 1] = jobs[id]
    end
    apply(jobs[id], event)
  end
  return order
end

return M
