local client = require "msgraph.migration.client"
local migration = require "msgraph.migration"
local mock = require "support.mock_graph"
local cjson = require "cjson"

-- Long enough to look like a real bearer token, and unique enough that a
-- plain substring search finds every leak.
local TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLXBheWxvYWQ.sig-Zm9vYmFy"
local BASE = "https://graph.microsoft.com/v1.0"
local CONTAINER_ID = "b!Qm9n-ZmFrZUNvbnRhaW5lcklkMDAx_XyZ"
local JOB_ID = "5d0c6a4e-2f1b-4c7e-9a83-1b2c3d4e5f60"
local EVENTS_URL = BASE .. "/storage/fileStorage/containers/b%21Qm9n-ZmFrZUNvbnRhaW5lcklkMDAx_XyZ"
  .. "/migrationJobs/" .. JOB_ID .. "/progressEvents"
local UUID_V4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local function event_json(kind, id, fields)
  local object = {
    ["@odata.type"] = "#microsoft.graph.sharePointMigration" .. kind .. "Event",
    id = id,
    jobId = JOB_ID,
    eventDateTime = "2025-11-20T14:02:11.207Z",
    correlationId = "9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
  }
  for name, value in pairs(fields or {}) do
    object[name] = value
  end
  return object
end

-- Builds the page text by hand because lua-cjson 2.1.0 encodes an empty
-- table as an object, not as the empty "value" array.
local function page_body(events, next_link)
  local items = {}
  for index, object in ipairs(events) do
    items[index] = cjson.encode(object)
  end
  local body = '{"value":[' .. table.concat(items, ",") .. "]"
  if next_link then
    body = body .. ',"@odata.nextLink":' .. cjson.encode(next_link)
  end
  return body .. "}"
end

local function ok_page(events, next_link)
  return { 200, { ["content-type"] = "application/json" }, page_body(events, next_link) }
end

local function graph_error_response(status, headers, code, message, inner)
  local envelope = { error = { code = code, message = message, innerError = inner } }
  headers["content-type"] = headers["content-type"] or "application/json"
  return { status, headers, cjson.encode(envelope) }
end

-- Returns a transport that returns the given responses in order and
-- records every request it receives.
local function fake_transport(responses)
  local fake = { requests = {} }
  function fake.request(_, request)
    fake.requests[#fake.requests + 1] = request
    local response = responses[#fake.requests]
    if response == nil then
      error("fake transport has no response for request " .. #fake.requests .. " to " .. request.url)
    end
    if type(response) == "function" then
      return response(request)
    end
    return response[1], response[2], response[3]
  end
  return fake
end

local function new_client(transport, options)
  options = options or {}
  options.transport = transport
  options.token = options.token or TOKEN
  options.sleep = options.sleep or function() end
  options.clock = options.clock or function() return 0 end
  return client.new(options)
end

local function raised_by(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err
end

-- Fails if the token appears in any string reachable from `value`.
local function assert_no_token(value, path, seen)
  path = path or "value"
  seen = seen or {}
  if type(value) == "string" then
    assert.is_nil(value:find(TOKEN, 1, true), "token found in " .. path)
  elseif type(value) == "table" and not seen[value] then
    seen[value] = true
    for key, item in pairs(value) do
      assert_no_token(key, path .. " key", seen)
      assert_no_token(item, path .. "." .. tostring(key), seen)
    end
  end
end

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

describe("client.new", function()
  local transport = fake_transport({})

  it("defaults to the v1.0 base URL", function()
    local graph = client.new{ token = TOKEN, transport = transport }
    assert.are.equal("https://graph.microsoft.com/v1.0", graph.base_url)
  end)

  it("selects beta with version", function()
    local graph = client.new{ token = TOKEN, transport = transport, version = "beta" }
    assert.are.equal("https://graph.microsoft.com/beta", graph.base_url)
  end)

  it("strips a trailing slash from base_url", function()
    local graph = client.new{ token = TOKEN, transport = transport, base_url = "https://graph.microsoft.com/beta/" }
    assert.are.equal("https://graph.microsoft.com/beta", graph.base_url)
  end)

  it("rejects an unknown version", function()
    local err = raised_by(client.new, { token = TOKEN, transport = transport, version = "v2" })
    assert.matches("option version must be \"v1.0\" or \"beta\", got v2", err, 1, true)
  end)

  it("rejects base_url together with version", function()
    local err = raised_by(client.new, { token = TOKEN, transport = transport, version = "beta", base_url = BASE })
    assert.matches("either option base_url or option version", err, 1, true)
  end)

  it("rejects plain http for other hosts", function()
    for _, base_url in ipairs({ "http://graph.microsoft.com/v1.0", "http://10.0.0.1/v1.0", "http://128.0.0.1/x" }) do
      local err = raised_by(client.new, { token = TOKEN, transport = transport, base_url = base_url })
      assert.matches("must use https", err, 1, true)
    end
  end)

  it("rejects a misspelled option", function()
    local err = raised_by(client.new, { token = TOKEN, transport = transport, base_ulr = BASE })
    assert.matches("unknown option base_ulr to client.new", err, 1, true)
  end)

  it("rejects a base URL whose host depends on the parser", function()
    for _, base_url in ipairs({ "http://127.0.0.1:8080?@graph.example.invalid/v1.0",
      "http://127.0.0.1:8080#@graph.example.invalid/v1.0" }) do
      local err = raised_by(client.new, { token = TOKEN, transport = transport, base_url = base_url })
      assert.matches("without user information", err, 1, true)
    end
  end)

  it("accepts plain http for loopback hosts", function()
    for _, base_url in ipairs({ "http://127.0.0.1:8080/v1.0", "http://127.9.9.9/v1.0",
      "http://localhost:1/v1.0", "http://[::1]:8080/v1.0" }) do
      local graph = client.new{ token = TOKEN, transport = transport, base_url = base_url }
      assert.are.equal(base_url, graph.base_url)
    end
  end)

  it("rejects a base_url with user information", function()
    local err = raised_by(client.new, { token = TOKEN, transport = transport,
      base_url = "https://graph.microsoft.com@evil.example/v1.0" })
    assert.matches("without user information", err, 1, true)
  end)

  it("requires a token", function()
    local err = raised_by(client.new, { transport = transport })
    assert.matches("option token is required", err, 1, true)
  end)

  it("rejects TLS options with a custom transport", function()
    local err = raised_by(client.new, { token = TOKEN, transport = transport, insecure = true })
    assert.matches("cannot be combined with option transport", err, 1, true)
  end)

  it("rejects invalid numeric options", function()
    local cases = {
      { max_attempts = 0, "option max_attempts must be an integer of at least 1, got 0" },
      { max_attempts = 1.5, "option max_attempts must be an integer of at least 1, got 1.5" },
      { timeout = -1, "option timeout must be a positive number of seconds, got -1" },
      { max_total_delay = "10", "option max_total_delay must be a non-negative number of seconds, got string" },
    }
    for _, case in ipairs(cases) do
      local expected = table.remove(case, 1)
      case.token, case.transport = TOKEN, transport
      local err = raised_by(client.new, case)
      assert.matches(expected, err, 1, true)
    end
  end)

  it("rejects an unreadable ca_file", function()
    local err = raised_by(client.new, { token = TOKEN, ca_file = "/nonexistent/ca.pem" })
    assert.matches("ca_file names a file that cannot be read: /nonexistent/ca.pem", err, 1, true)
  end)
end)

describe("progress events path", function()
  it("encodes bytes outside the unreserved set", function()
    local cases = {
      { "b!abc", "b%21abc" },
      { "a-b.c_d~e", "a-b.c_d~e" },
      { "a b/c?d#e", "a%20b%2Fc%3Fd%23e" },
      { "ü", "%C3%BC" },
      { "%21", "%2521" },
    }
    for _, case in ipairs(cases) do
      assert.are.equal(case[2], client.encode_segment(case[1]))
    end
  end)

  it("builds the List progressEvents path", function()
    assert.are.equal("/storage/fileStorage/containers/b%21x/migrationJobs/j%2F1/progressEvents",
      client.progress_events_path("b!x", "j/1"))
  end)

  it("rejects an empty container id", function()
    local graph = new_client(fake_transport({}))
    local err = raised_by(graph.list_progress_events, graph, "", JOB_ID)
    assert.matches("container_id must be a non-empty string, got an empty string", err, 1, true)
  end)

  it("rejects a missing job id", function()
    local graph = new_client(fake_transport({}))
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, nil)
    assert.matches("job_id must be a non-empty string, got nil", err, 1, true)
  end)
end)

describe("client requests", function()
  it("sends the token and a request id", function()
    local transport = fake_transport({ ok_page({}) })
    local graph = new_client(transport, { timeout = 12 })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)

    local request = transport.requests[1]
    assert.are.equal("GET", request.method)
    assert.are.equal(EVENTS_URL, request.url)
    assert.are.equal(12, request.timeout)
    assert.are.equal("Bearer " .. TOKEN, request.headers.authorization)
    assert.are.equal("application/json", request.headers.accept)
    assert.matches(UUID_V4, request.headers["client-request-id"])
    assert.is_nil(request.headers["retry-attempt"])
  end)

  it("uses a fresh client-request-id per request", function()
    local transport = fake_transport({
      ok_page({}, EVENTS_URL .. "?$skiptoken=1"),
      ok_page({}, EVENTS_URL .. "?$skiptoken=2"),
      ok_page({}),
    })
    local graph = new_client(transport)
    graph:list_progress_events(CONTAINER_ID, JOB_ID)

    local seen = {}
    for _, request in ipairs(transport.requests) do
      local id = request.headers["client-request-id"]
      assert.matches(UUID_V4, id)
      assert.is_nil(seen[id], "client-request-id repeated: " .. id)
      seen[id] = true
    end
    assert.are.equal(3, #transport.requests)
  end)

  it("calls the token function before each request", function()
    local calls = 0
    local function token()
      calls = calls + 1
      return TOKEN .. "-" .. calls
    end
    local transport = fake_transport({
      graph_error_response(429, { ["retry-after"] = "1" }, "TooManyRequests", "slow down"),
      ok_page({}, EVENTS_URL .. "?$skiptoken=1"),
      ok_page({}),
    })
    local graph = new_client(transport, { token = token })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)

    assert.are.equal(3, calls)
    for index, request in ipairs(transport.requests) do
      assert.are.equal("Bearer " .. TOKEN .. "-" .. index, request.headers.authorization)
    end
  end)

  it("raises a token error when the token function fails", function()
    local graph = new_client(fake_transport({}), { token = function() return nil, "cache is empty" end })
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("token", err.kind)
    assert.matches("token function did not return a non-empty string: cache is empty", tostring(err), 1, true)
  end)

  it("accepts a transport function", function()
    local seen
    local graph = new_client(function(request)
      seen = request
      return 200, { ["Content-Type"] = "application/json" }, page_body({})
    end)
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.equal(EVENTS_URL, seen.url)
  end)

  it("keeps raising after a failed page", function()
    local graph = new_client(fake_transport({
      ok_page({}, BASE .. "/next"),
      { 500, {}, "down" },
    }), { max_attempts = 1 })
    local next_event = graph:progress_events(CONTAINER_ID, JOB_ID)
    local first = raised_by(next_event)
    assert.are.equal(500, first.status)
    local second = raised_by(next_event)
    assert.are.equal(first, second)
  end)

  it("redacts a cut copy of the token in decode errors", function()
    local body = '{"value":[{"@odata.type":"#microsoft.graph.migrationJobStartEvent","totalRetryCount":"'
      .. TOKEN .. '"}]}'
    local graph = new_client(fake_transport({ { 200, { ["content-type"] = "application/json" }, body } }))
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("decode", err.kind)
    assert.matches('value[0].totalRetryCount: expected Int32, got "[REDACTED]"', err.message, 1, true)
    assert.is_nil(tostring(err):find(TOKEN:sub(1, 20), 1, true))
  end)

  it("rejects a URL on another host", function()
    local transport = fake_transport({})
    local graph = new_client(transport)
    local err = raised_by(graph.request, graph, "GET", "https://evil.example/v1.0/me")
    assert.are.equal("security", err.kind)
    assert.are.equal(0, #transport.requests)
  end)
end)

describe("client paging", function()
  it("follows next links verbatim", function()
    local second = "https://graph.microsoft.com/v1.0/storage/fileStorage/containers/b!Qm9n"
      .. "/migrationJobs/x/progressEvents?$skiptoken=Mg%3D%3D&a=%21"
    local third = EVENTS_URL .. "?$skiptoken=ODY4MA"
    local transport = fake_transport({
      ok_page({ event_json("JobQueued", "e1") }, second),
      ok_page({ event_json("JobStart", "e2", { isRestarted = false, totalRetryCount = 0 }) }, third),
      ok_page({ event_json("JobDeleted", "e3") }),
    })
    local graph = new_client(transport)
    local events = graph:list_progress_events(CONTAINER_ID, JOB_ID)

    assert.are.equal(3, #transport.requests)
    assert.are.equal(EVENTS_URL, transport.requests[1].url)
    assert.are.equal(second, transport.requests[2].url)
    assert.are.equal(third, transport.requests[3].url)
    assert.are.equal(3, #events)
    assert.are.equal("e1", events[1].id)
    assert.are.equal("MigrationJobQueuedEvent", migration.type(events[1]))
    assert.are.equal("MigrationJobStartEvent", migration.type(events[2]))
    assert.are.equal("MigrationJobDeletedEvent", migration.type(events[3]))
  end)

  it("fetches pages as the iterator reaches them", function()
    local transport = fake_transport({
      ok_page({ event_json("JobQueued", "e1"), event_json("JobDeleted", "e2") }, EVENTS_URL .. "?$skiptoken=2"),
      ok_page({ event_json("JobDeleted", "e3") }),
    })
    local graph = new_client(transport)
    local next_event = graph:progress_events(CONTAINER_ID, JOB_ID)

    assert.are.equal("e1", next_event().id)
    assert.are.equal(1, #transport.requests)
    assert.are.equal("e2", next_event().id)
    assert.are.equal(1, #transport.requests)
    assert.are.equal("e3", next_event().id)
    assert.are.equal(2, #transport.requests)
    assert.is_nil(next_event())
    assert.is_nil(next_event())
    assert.are.equal(2, #transport.requests)
  end)

  it("skips empty pages", function()
    local transport = fake_transport({
      ok_page({}, EVENTS_URL .. "?$skiptoken=1"),
      ok_page({ event_json("JobQueued", "e1") }),
    })
    local graph = new_client(transport)
    local events = graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.equal(1, #events)
    assert.are.equal("e1", events[1].id)
  end)

  it("returns page context and next link", function()
    local transport = fake_transport({
      { 200, {}, cjson.encode({ ["@odata.context"] = "ctx", value = { event_json("JobQueued", "e1") },
        ["@odata.nextLink"] = EVENTS_URL .. "?$skiptoken=2" }) },
      ok_page({}),
    })
    local graph = new_client(transport)
    local next_page = graph:progress_event_pages(CONTAINER_ID, JOB_ID)
    local page = next_page()
    assert.are.equal(1, page.number)
    assert.are.equal("ctx", page.context)
    assert.are.equal(EVENTS_URL .. "?$skiptoken=2", page.next_link)
    assert.are.equal(EVENTS_URL, page.url)
    assert.are.equal(1, #page.events)
    assert.are.equal(2, next_page().number)
    assert.is_nil(next_page())
  end)

  it("stops at a next link loop", function()
    local transport = fake_transport({
      ok_page({}, EVENTS_URL .. "?$skiptoken=2"),
      ok_page({}, EVENTS_URL),
    })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("paging", err.kind)
    assert.are.equal(EVENTS_URL, err.url)
    assert.matches("repeats a page that was already requested", tostring(err), 1, true)
    assert.are.equal(2, #transport.requests)
  end)

  it("stops at a next link to itself", function()
    local transport = fake_transport({
      ok_page({}, EVENTS_URL .. "?$skiptoken=2"),
      ok_page({}, EVENTS_URL .. "?$skiptoken=2"),
    })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("paging", err.kind)
    assert.are.equal(2, #transport.requests)
  end)

  it("withholds the token from other origins", function()
    local links = {
      "https://evil.example/v1.0/progressEvents?$skiptoken=2",
      "http://graph.microsoft.com/v1.0/progressEvents?$skiptoken=2",
      "https://graph.microsoft.com:8443/v1.0/progressEvents?$skiptoken=2",
      "https://graph.microsoft.com.evil.example/v1.0/x",
      "https://graph.microsoft.com@evil.example/v1.0/x",
      -- socket.url reads the host after "@" even behind "?" or "#".
      "https://graph.microsoft.com?@evil.example/v1.0/x",
      "https://graph.microsoft.com#@evil.example/v1.0/x",
    }
    for _, link in ipairs(links) do
      local transport = fake_transport({ ok_page({}, link) })
      local graph = new_client(transport)
      local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
      assert.is_true(err.kind == "security" or err.kind == "paging", "unexpected kind " .. tostring(err.kind))
      assert.are.equal(1, #transport.requests, "request sent for " .. link)
    end
  end)

  it("accepts the base host in other case", function()
    local transport = fake_transport({
      ok_page({}, "https://Graph.Microsoft.com:443/v1.0/next"),
      ok_page({}),
    })
    local graph = new_client(transport)
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.equal("https://Graph.Microsoft.com:443/v1.0/next", transport.requests[2].url)
  end)

  it("rejects a relative next link", function()
    local transport = fake_transport({ ok_page({}, "/v1.0/next") })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("paging", err.kind)
    assert.matches("not an absolute http or https URL", tostring(err), 1, true)
  end)

  it("raises a decode error for a malformed page", function()
    local transport = fake_transport({
      { 200, { ["request-id"] = "rid-1" }, '{"value":[{"@odata.type":' },
    })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
    assert.are.equal("rid-1", err.request_id)
    assert.matches("not a valid progressEvents page", tostring(err), 1, true)
  end)

  it("raises a decode error for a page without value", function()
    local transport = fake_transport({ { 200, {}, '{"items":[]}' } })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("decode", err.kind)
  end)
end)

describe("client retries", function()
  local function throttled(retry_after)
    local headers = { ["retry-after"] = retry_after }
    return graph_error_response(429, headers, "TooManyRequests", "Please retry again later.",
      { code = "throttledRequest", date = "2025-11-20T14:40:02", ["request-id"] = "rid-429" })
  end

  it("waits as Retry-After seconds say", function()
    local sleeps, hooks = {}, {}
    local transport = fake_transport({ throttled("7"), throttled("3"), ok_page({}) })
    local graph = new_client(transport, {
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      on_retry = function(info) hooks[#hooks + 1] = info end,
    })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)

    assert.are.same({ 7, 3 }, sleeps)
    assert.are.equal(3, #transport.requests)
    assert.is_nil(transport.requests[1].headers["retry-attempt"])
    assert.are.equal("1", transport.requests[2].headers["retry-attempt"])
    assert.are.equal("2", transport.requests[3].headers["retry-attempt"])

    assert.are.equal(2, #hooks)
    assert.are.equal(429, hooks[1].status)
    assert.are.equal(1, hooks[1].attempt)
    assert.are.equal(7, hooks[1].delay)
    assert.are.equal(EVENTS_URL, hooks[1].url)
    assert.are.equal("GET", hooks[1].method)
    assert.are.equal("TooManyRequests", hooks[1].code)
    assert.are.equal("rid-429", hooks[1].request_id)
    assert.are.equal(2, hooks[2].attempt)
    assert_no_token(hooks)
  end)

  it("waits until a Retry-After HTTP date", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("Wed, 21 Oct 2015 07:28:00 GMT"), ok_page({}) })
    local graph = new_client(transport, {
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      clock = function() return 1445412480 - 5 end,
    })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.same({ 5 }, sleeps)
  end)

  it("reads all three HTTP date forms", function()
    local forms = {
      "Sun, 06 Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov  6 08:49:37 1994",
    }
    for _, form in ipairs(forms) do
      local sleeps = {}
      local transport = fake_transport({ throttled(form), ok_page({}) })
      local graph = new_client(transport, {
        sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
        clock = function() return 784111777 - 12 end,
      })
      graph:list_progress_events(CONTAINER_ID, JOB_ID)
      assert.are.same({ 12 }, sleeps, "for Retry-After " .. form)
    end
  end)

  it("retries at once for a past Retry-After date", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("Wed, 21 Oct 2015 07:28:00 GMT"), ok_page({}) })
    local graph = new_client(transport, {
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      clock = function() return 1445412480 + 60 end,
    })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.same({ 0 }, sleeps)
  end)

  it("backs off with jitter without Retry-After", function()
    local sleeps = {}
    local gateway_timeout = graph_error_response(504, {}, "UnknownError", "Gateway timeout.")
    local transport = fake_transport({ gateway_timeout, gateway_timeout, gateway_timeout, ok_page({}) })
    local random_values = { 0, 0.5, 0.999 }
    local graph = new_client(transport, {
      backoff_base = 2,
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      random = function() return table.remove(random_values, 1) end,
    })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    -- Retry n waits 2 * 2^(n-1) scaled into its upper half by the jitter.
    assert.are.same({ 1, 3, 4 + 4 * 0.999 }, sleeps)
  end)

  it("uses backoff for an invalid Retry-After", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("soon"), ok_page({}) })
    local graph = new_client(transport, {
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      random = function() return 0 end,
    })
    graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.same({ client.DEFAULT_BACKOFF_BASE / 2 }, sleeps)
  end)

  it("retries 503 with Retry-After", function()
    local sleeps = {}
    local transport = fake_transport({
      graph_error_response(503, { ["retry-after"] = "2" }, "serviceNotAvailable", "busy"),
      ok_page({ event_json("JobQueued", "e1") }),
    })
    local graph = new_client(transport, { sleep = function(seconds) sleeps[#sleeps + 1] = seconds end })
    local events = graph:list_progress_events(CONTAINER_ID, JOB_ID)
    assert.are.same({ 2 }, sleeps)
    assert.are.equal(1, #events)
  end)

  it("does not retry other statuses", function()
    for _, status in ipairs({ 400, 401, 403, 404, 500, 502 }) do
      local transport = fake_transport({
        graph_error_response(status, { ["retry-after"] = "1" }, "someError", "failed"),
        ok_page({}),
      })
      local graph = new_client(transport)
      local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
      assert.are.equal(status, err.status)
      assert.are.equal(1, #transport.requests, "status " .. status .. " was retried")
    end
  end)

  it("stops after max_attempts", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("1"), throttled("1"), throttled("1"), ok_page({}) })
    local graph = new_client(transport, {
      max_attempts = 3,
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
    })
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("graph", err.kind)
    assert.are.equal(429, err.status)
    assert.are.equal(3, err.attempts)
    assert.are.equal(3, #transport.requests)
    assert.are.same({ 1, 1 }, sleeps)
    assert.matches("3 attempts", tostring(err), 1, true)
  end)

  it("stops at max_total_delay", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("100"), throttled("100"), ok_page({}) })
    local graph = new_client(transport, { sleep = function(seconds) sleeps[#sleeps + 1] = seconds end })
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal(429, err.status)
    assert.are.equal(100, err.retry_after)
    assert.are.same({ 100 }, sleeps)
    assert.are.equal(2, #transport.requests)
  end)

  it("does not wait beyond a small max_total_delay", function()
    local sleeps = {}
    local transport = fake_transport({ throttled("30"), ok_page({}) })
    local graph = new_client(transport, {
      max_total_delay = 10,
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
    })
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal(429, err.status)
    assert.are.same({}, sleeps)
  end)
end)

describe("client errors", function()
  it("reads the Graph error envelope", function()
    local transport = fake_transport({
      graph_error_response(404, { ["retry-after"] = "9" }, "migrationNotFound",
        "The progress of the migration job has expired.", {
          code = "jobProgressExpired",
          date = "2025-11-25T09:00:41",
          ["request-id"] = "f8cad1b0-6a33-4c1d-b900-4bf7dac9bf50",
          ["client-request-id"] = "09dbe2c1-7b44-4d2e-8a11-5c08ebdac061",
          innererror = { code = "deeperCode", innerError = { code = "deepestCode" } },
        }),
    })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)

    assert.is_true(client.is_error(err))
    assert.is_true(client.is_error(err, "graph"))
    assert.are.equal("graph", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("migrationNotFound", err.code)
    assert.are.equal("The progress of the migration job has expired.", err.message)
    assert.are.same({ "jobProgressExpired", "deeperCode", "deepestCode" }, err.inner_codes)
    assert.are.equal("f8cad1b0-6a33-4c1d-b900-4bf7dac9bf50", err.request_id)
    assert.are.equal("09dbe2c1-7b44-4d2e-8a11-5c08ebdac061", err.client_request_id)
    assert.are.equal("2025-11-25T09:00:41", err.date)
    assert.are.equal(1764061241, err.date_epoch)
    assert.are.equal(9, err.retry_after)
    assert.are.equal("GET", err.method)
    assert.are.equal(EVENTS_URL, err.url)
    assert.is_true(err:has_code("JOBPROGRESSEXPIRED"))
    assert.is_true(err:has_code("migrationnotfound"))
    assert.is_false(err:has_code("jobNotFound"))
  end)

  it("formats the error as one line", function()
    local transport = fake_transport({
      graph_error_response(404, {}, "migrationNotFound", "The job\nwas not found.",
        { code = "jobNotFound", date = "2025-11-25T09:00:41", ["request-id"] = "rid-404" }),
    })
    local graph = new_client(transport)
    local text = tostring(raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID))

    assert.is_nil(text:find("\n", 1, true))
    assert.matches("HTTP 404 Not Found", text, 1, true)
    assert.matches("code migrationNotFound (inner codes jobNotFound): The job was not found.", text, 1, true)
    assert.matches("request-id rid-404", text, 1, true)
    assert.matches("date 2025-11-25T09:00:41", text, 1, true)
    assert.matches("GET " .. EVENTS_URL, text, 1, true)
  end)

  it("works with error and pcall", function()
    local transport = fake_transport({ graph_error_response(403, {}, "accessDenied", "Denied.") })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    local ok, rethrown = pcall(error, err)
    assert.is_false(ok)
    assert.are.equal(err, rethrown)
    assert.matches("HTTP 403 Forbidden, code accessDenied: Denied.", tostring(rethrown), 1, true)
  end)

  it("reports a non-JSON body with its status", function()
    local transport = fake_transport({
      { 502, { ["content-type"] = "text/html", ["request-id"] = "rid-502" }, "<html><h1>Bad gateway</h1></html>" },
    })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("graph", err.kind)
    assert.are.equal(502, err.status)
    assert.is_nil(err.code)
    assert.are.equal("rid-502", err.request_id)
    assert.are.equal("<html><h1>Bad gateway</h1></html>", err.body)
    local text = tostring(err)
    assert.matches("HTTP 502 Bad Gateway and a body that is not a Graph error envelope (text/html, 33 bytes",
      text, 1, true)
  end)

  it("reports JSON that is not an envelope", function()
    for _, body in ipairs({ '{"message":"nope"}', '{"error":"nope"}', '[1,2]', '{"error":{"message":"x"}}' }) do
      local transport = fake_transport({ { 400, { ["content-type"] = "application/json" }, body } })
      local graph = new_client(transport)
      local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
      assert.are.equal(400, err.status)
      assert.is_nil(err.code)
      assert.matches("not a Graph error envelope", tostring(err), 1, true)
    end
  end)

  it("reports an empty error body", function()
    local transport = fake_transport({ { 500, {}, "" } })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.matches("HTTP 500 Internal Server Error and an empty body", tostring(err), 1, true)
  end)

  it("falls back to our client-request-id", function()
    local transport = fake_transport({ graph_error_response(400, {}, "badRequest", "Bad.") })
    local graph = new_client(transport)
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal(transport.requests[1].headers["client-request-id"], err.client_request_id)
  end)

  it("wraps transport failures", function()
    local cases = {
      { function() error("connection refused") end, "transport", "connection refused" },
      { function() error({ kind = "timeout", message = "no response within 1 seconds" }) end, "timeout",
        "no response within 1 seconds" },
      { function() error({ kind = "tls", message = "certificate verify failed" }) end, "tls",
        "certificate verify failed" },
      { function() return nil, "host not found" end, "transport", "host not found" },
      { function() return "200", {}, "" end, "transport", "status that is not an integer" },
    }
    for _, case in ipairs(cases) do
      local graph = new_client(case[1])
      local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
      assert.are.equal(case[2], err.kind)
      assert.matches(case[3], err.message, 1, true)
      assert.matches(case[3], tostring(err), 1, true)
      assert.are.equal(EVENTS_URL, err.url)
      assert.matches(UUID_V4, err.client_request_id)
    end
  end)

  it("never shows the token", function()
    local leak = "Bearer " .. TOKEN
    local responses = {
      graph_error_response(401, { ["request-id"] = TOKEN }, "InvalidAuthenticationToken", "Rejected " .. leak,
        { code = "inner " .. TOKEN, date = TOKEN }),
      { 500, { ["content-type"] = "text/plain" }, "echo: " .. leak },
      function() error("socket failed while sending " .. leak) end,
      function() error({ kind = "timeout", message = leak }) end,
      { 200, {}, '{"value":"' .. TOKEN .. '"' },
    }
    for index, response in ipairs(responses) do
      local hooks = {}
      local graph = new_client(fake_transport({ response }), {
        on_retry = function(info) hooks[#hooks + 1] = info end,
      })
      local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
      assert.is_nil(tostring(err):find(TOKEN, 1, true), "token in tostring of case " .. index)
      assert_no_token(err, "error of case " .. index)
      assert_no_token(hooks)
    end
  end)

  it("hides the token in a failing token function", function()
    local calls = 0
    local graph = new_client(fake_transport({ ok_page({}, EVENTS_URL .. "?$skiptoken=2") }), {
      token = function()
        calls = calls + 1
        if calls == 1 then
          return TOKEN
        end
        error("refresh failed for " .. TOKEN)
      end,
    })
    local err = raised_by(graph.list_progress_events, graph, CONTAINER_ID, JOB_ID)
    assert.are.equal("token", err.kind)
    assert_no_token(err)
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
  end)
end)

describe("client against mock Graph server", function()
  local server

  after_each(function()
    if server then
      server.stop()
      server = nil
    end
  end)

  local function mock_client(scenario, options)
    server = mock.start{ scenario = scenario, delay = options and options.delay }
    options = options or {}
    options.delay = nil
    options.base_url = options.base_url or server.base_url
    options.token = TOKEN
    options.sleep = options.sleep or function() end
    return client.new(options)
  end

  local function list(graph)
    return graph:list_progress_events(mock.CONTAINER_ID, mock.JOB_ID)
  end

  it("lists events across three pages", function()
    local graph = mock_client("pages")
    local events = list(graph)

    assert.are.equal(4, #events)
    assert.are.equal("MigrationJobQueuedEvent", migration.type(events[1]))
    assert.are.equal("MigrationJobStartEvent", migration.type(events[2]))
    assert.are.equal("MigrationJobProgressEvent", migration.type(events[3]))
    assert.are.equal(7516192768, events[3].bytesProcessed)
    assert.is_true(events[4].isCompleted)

    local requests = server.requests()
    assert.are.equal(3, #requests)
    assert.are.equal(mock.EVENTS_PATH, requests[1].target)
    assert.are.equal(mock.EVENTS_PATH .. "?$skiptoken=Mg%3D%3D", requests[2].target)
    assert.matches("/containers/b!Qm9n-mockContainer_01/", requests[3].target, 1, true)
    for _, request in ipairs(requests) do
      assert.are.equal("GET", request.method)
      assert.are.equal("Bearer " .. TOKEN, request.headers.authorization)
      assert.matches(UUID_V4, request.headers["client-request-id"])
    end
  end)

  it("retries 429 with Retry-After seconds", function()
    local sleeps = {}
    local graph = mock_client("throttle-seconds", { sleep = function(seconds) sleeps[#sleeps + 1] = seconds end })
    local events = list(graph)

    assert.are.equal(4, #events)
    assert.are.same({ 7 }, sleeps)
    local requests = server.requests()
    assert.are.equal(4, #requests)
    assert.is_nil(requests[1].headers["retry-attempt"])
    assert.are.equal("1", requests[2].headers["retry-attempt"])
    assert.is_nil(requests[3].headers["retry-attempt"])
    assert.are_not.equal(requests[1].headers["client-request-id"], requests[2].headers["client-request-id"])
  end)

  it("retries 429 with a Retry-After date", function()
    local sleeps = {}
    local graph = mock_client("throttle-date", {
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
      clock = function() return mock.RETRY_DATE_EPOCH - 5 end,
    })
    assert.are.equal(4, #list(graph))
    assert.are.same({ 5 }, sleeps)
  end)

  it("retries 503 then succeeds", function()
    local hooks = {}
    local graph = mock_client("unavailable", { on_retry = function(info) hooks[#hooks + 1] = info end })
    assert.are.equal(4, #list(graph))
    assert.are.equal(1, #hooks)
    assert.are.equal(503, hooks[1].status)
    assert.are.equal(1, hooks[1].delay)
    assert.are.equal(server.base_url .. "/storage/fileStorage/containers/b%21Qm9n-mockContainer_01/migrationJobs/"
      .. mock.JOB_ID .. "/progressEvents", hooks[1].url)
    assert_no_token(hooks)
  end)

  it("backs off on 504 without Retry-After", function()
    local sleeps = {}
    local graph = mock_client("gateway-timeout", {
      backoff_base = 4,
      random = function() return 0.5 end,
      sleep = function(seconds) sleeps[#sleeps + 1] = seconds end,
    })
    assert.are.equal(4, #list(graph))
    assert.are.same({ 3, 6 }, sleeps)
    local requests = server.requests()
    assert.are.equal("2", requests[3].headers["retry-attempt"])
  end)

  it("gives up on endless throttling", function()
    local graph = mock_client("always-throttled", { max_attempts = 3 })
    local err = raised_by(list, graph)
    assert.are.equal(429, err.status)
    assert.are.equal(3, err.attempts)
    assert.is_true(err:has_code("activityLimitReached"))
    assert.are.equal(3, #server.requests())
  end)

  it("raises the Graph error", function()
    local graph = mock_client("graph-error")
    local err = raised_by(list, graph)
    assert.are.equal("graph", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("migrationNotFound", err.code)
    assert.are.same({ "jobProgressExpired" }, err.inner_codes)
    assert.are.equal("d6a8b9fe-4811-4afb-97ee-29d5b8a79d3e", err.request_id)
    assert.are.equal("2025-11-20T14:40:02", err.date)
  end)

  it("reports a non-JSON 502", function()
    local graph = mock_client("bad-gateway-html")
    local err = raised_by(list, graph)
    assert.are.equal(502, err.status)
    assert.matches("HTTP 502 Bad Gateway and a body that is not a Graph error envelope (text/html",
      tostring(err), 1, true)
  end)

  it("stops at a next link loop", function()
    local graph = mock_client("next-loop")
    local err = raised_by(list, graph)
    assert.are.equal("paging", err.kind)
    assert.are.equal(2, #server.requests())
  end)

  it("refuses a next link to another host", function()
    local graph = mock_client("next-other-host")
    local err = raised_by(list, graph)
    assert.are.equal("security", err.kind)
    assert.matches("http://localhost:" .. server.port, err.url, 1, true)
    assert.are.equal(1, #server.requests())
  end)

  it("times out on a slow answer", function()
    local graph = mock_client("slow", { timeout = 0.3, delay = 3 })
    local err = raised_by(list, graph)
    assert.are.equal("timeout", err.kind)
    assert.matches("timed out", tostring(err), 1, true)
  end)

  it("raises a decode error for a malformed page", function()
    local graph = mock_client("malformed")
    local err = raised_by(list, graph)
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
  end)

  it("does not follow redirects", function()
    local graph = mock_client("redirect")
    local err = raised_by(list, graph)
    assert.are.equal(302, err.status)
    assert.are.equal(1, #server.requests())
  end)

  it("redacts a token the server echoes", function()
    local graph = mock_client("echo-token")
    local err = raised_by(list, graph)
    assert.are.equal(401, err.status)
    assert.matches("Token rejected: Bearer [REDACTED]", err.message, 1, true)
    assert_no_token(err)
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
  end)

  it("reports a refused connection", function()
    local socket = require "socket"
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, port = probe:getsockname()
    probe:close()
    local graph = client.new{ token = TOKEN, base_url = "http://127.0.0.1:" .. port .. "/v1.0" }
    local err = raised_by(list, graph)
    assert.are.equal("transport", err.kind)
    assert.matches("refused", tostring(err), 1, true)
    assert_no_token(err)
  end)
end)

describe("client over TLS", function()
  local directory, cert, key
  local server

  setup(function()
    local pipe = assert(io.popen("mktemp -d"))
    directory = pipe:read("l")
    pipe:close()
    cert = directory .. "/cert.pem"
    key = directory .. "/key.pem"
    local command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      .. " -addext subjectAltName=IP:127.0.0.1"
      .. " -keyout " .. shell_quote(key) .. " -out " .. shell_quote(cert) .. " 2>/dev/null"
    assert.is_true(os.execute(command), "openssl could not create a test certificate")
  end)

  teardown(function()
    if directory then
      os.execute("rm -rf " .. shell_quote(directory))
    end
  end)

  before_each(function()
    server = mock.start{ scenario = "pages", cert = cert, key = key }
  end)

  after_each(function()
    server.stop()
  end)

  local function list(options)
    options.token = TOKEN
    options.base_url = options.base_url or server.base_url
    local graph = client.new(options)
    return graph:list_progress_events(mock.CONTAINER_ID, mock.JOB_ID)
  end

  it("rejects a self-signed certificate by default", function()
    local err = raised_by(list, {})
    assert.are.equal("tls", err.kind)
    assert.matches("certificate verify failed", tostring(err), 1, true)
    for _, request in ipairs(server.requests()) do
      assert.is_nil(request.headers, "the server received a request over an unverified connection")
    end
  end)

  it("accepts the certificate with ca_file", function()
    local events = list({ ca_file = cert })
    assert.are.equal(4, #events)
    assert.are.equal("Bearer " .. TOKEN, server.requests()[1].headers.authorization)
  end)

  it("accepts any certificate with insecure", function()
    assert.are.equal(4, #list({ insecure = true }))
  end)

  it("rejects a certificate for another host name", function()
    local err = raised_by(list, { ca_file = cert, base_url = "https://localhost:" .. server.port .. "/v1.0" })
    assert.are.equal("tls", err.kind)
    assert.matches("not valid for host localhost", tostring(err), 1, true)
    assert.are.equal(0, #server.requests())
  end)
end)
