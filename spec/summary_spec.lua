local helpers = require "helpers"
local migration = helpers.migration

local function decode_all(...)
  local all = {}
  for _, path in ipairs({ ... }) do
    for _, event in ipairs((migration.decode_page(helpers.read(path)))) do
      all[#all + 1] = event
    end
  end
  return all
end

describe("msgraph.migration summarize", function()
  it("explains sample pages A and B: postponed, restarted, errors, cancelled by the system", function()
    -- Pages given in reverse order: the summary sorts by time.
    local jobs = migration.summarize(decode_all("spec/fixtures/page-b.json", "spec/fixtures/page-a.json"))
    assert.are.equal(1, #jobs)
    local job = jobs[1]
    assert.are.equal("5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60", job.job_id)
    assert.are.equal("cancelled by system", job.state)
    assert.are.equal(9, #job.events)
    assert.are.equal("2025-11-20T14:02:11.207Z", job.first_time)
    assert.are.equal("2025-11-20T14:31:45.002Z", job.last_time)
    assert.are.equal(2, job.retries)
    assert.are.equal(1, job.restarts)
    assert.are.same({ important = 0, warning = 1, error = 0, fatalError = 1, unknownFutureValue = 0 }, job.errors)
    assert.are.same({ by_user = false, retries = 2, time = "2025-11-20T14:31:44.517Z" }, job.cancelled)
    assert.are.equal("Database is busy; job re-queued (Priorität: niedrig)", job.postponed.reason)
    assert.are.equal(4294967301, job.postponed.jobs_in_queue)
    assert.is_true(job.progress.is_completed)
    assert.are.equal(9663676416, job.progress.bytesProcessed)
    assert.are.equal(2, job.progress.totalErrors)
  end)

  it("explains sample page C: manifest, cancelled by a user, deleted", function()
    local job = migration.summarize(decode_all("spec/fixtures/page-c.json"))[1]
    assert.are.equal("deleted", job.state)
    assert.are.same({ by_user = true, retries = 0, time = "2025-06-10T08:04:51.339Z" }, job.cancelled)
    assert.are.same({ "Export_Manifest_0001.xml" }, job.manifests)
  end)

  it("follows state through queued, running, postponed and completed", function()
    local function event(kind, time, props)
      return migration.decode(('{"@odata.type":"#microsoft.graph.migration%s","jobId":"j","eventDateTime":"%s"%s}')
        :format(kind, time, props or ""))
    end
    local events = { event("JobQueuedEvent", "2026-01-01T00:00:00Z") }
    assert.are.equal("queued", migration.summarize(events)[1].state)
    events[#events + 1] = event("JobStartEvent", "2026-01-01T00:01:00Z", ',"isRestarted":false')
    assert.are.equal("running", migration.summarize(events)[1].state)
    events[#events + 1] = event("JobPostponedEvent", "2026-01-01T00:02:00Z", ',"reason":"busy"')
    assert.are.equal("postponed", migration.summarize(events)[1].state)
    events[#events + 1] = event("JobProgressEvent", "2026-01-01T00:03:00Z", ',"isCompleted":false')
    assert.are.equal("running", migration.summarize(events)[1].state)
    events[#events + 1] = event("JobProgressEvent", "2026-01-01T00:04:00Z", ',"isCompleted":true')
    assert.are.equal("completed", migration.summarize(events)[1].state)
  end)

  it("leaves the initiator open for a null isCancelledByUser", function()
    local job = migration.summarize({ migration.decode(
      '{"@odata.type":"#microsoft.graph.migrationJobCancelledEvent","jobId":"j","isCancelledByUser":null}') })[1]
    assert.are.equal("cancelled", job.state)
    assert.is_nil(job.cancelled.by_user)
  end)

  it("rejects what is not a list of events", function()
    assert.has_error(function() migration.summarize("x") end,
      "bad argument #1 to 'summarize' (table of events expected, got string)")
    assert.has_error(function() migration.summarize({ {} }) end,
      "bad argument #1 to 'summarize' (item 1 is not a migration event)")
  end)
end)

describe("examples/job-report.lua", function()
  local function run(args)
    local command = "LUA_PATH_5_4='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH_5_4='./build/?.so;;' "
      .. "lua5.4 examples/job-report.lua " .. args .. " 2>&1"
    local pipe = assert(io.popen("bash -c " .. ("%q"):format(command)))
    local output = pipe:read("a")
    local ok, _, code = pipe:close()
    return output, ok and 0 or code
  end

  it("reports the bundled page", function()
    local output, code = run("examples/data/sample-page.json")
    assert.are.equal(0, code)
    assert.are.equal(helpers.read("spec/fixtures/job-report.txt"), output)
  end)

  it("explains sample pages A, B and C", function()
    local output, code = run("spec/fixtures/page-b.json spec/fixtures/page-a.json spec/fixtures/page-c.json")
    assert.are.equal(0, code)
    assert.are.equal(helpers.read("spec/fixtures/job-report-abc.txt"), output)
  end)

  it("reads standard input", function()
    local output, code = run("- < spec/fixtures/page-c.json")
    assert.are.equal(0, code)
    assert.matches("Verdict: cancelled by a user after 0 retries at 2025%-06%-10T08:04:51.339Z, then deleted", output)
  end)

  it("fails clearly on a bad page", function()
    local output, code = run("spec/fixtures/does-not-exist.json")
    assert.are.equal(1, code)
    assert.matches("cannot read spec/fixtures/does%-not%-exist.json", output)
    output, code = run("- <<< '{\"value\":[{\"totalRetryCount\":1}]}'")
    assert.are.equal(0, code)
    assert.matches("Job %(no job id%): 1 event", output)
    output, code = run("examples")
    assert.are.equal(1, code)
    assert.are.equal("job-report: cannot read examples: Is a directory\n", output)
    output, code = run("examples/data/sample-page.json missing.json")
    assert.are.equal(1, code)
    assert.are.equal("job-report: cannot read missing.json: missing.json: No such file or directory\n", output)
    output, code = run("- <<< '{\"value\":[]}'")
    assert.are.equal(0, code)
    assert.are.equal("No events.\n", output)
    output, code = run("- <<< '{\"value\":[{\"jobId\":\"\\u001b[31mred\"}]}'")
    assert.are.equal(0, code)
    assert.matches("Job \\x1b%[31mred: 1 event", output)
    output, code = run("- <<< '{\"value\":5}'")
    assert.are.equal(1, code)
    assert.are.equal("job-report: stdin: value: expected array, got 5\n", output)
  end)
end)
