--- Microsoft Graph client for migration job progress events.
--
-- The client lists `progressEvents` of a SharePoint migration job, follows
-- `@odata.nextLink` paging, retries throttled requests (429, 503, 504) and
-- turns failures into error objects. It sends the bearer token only to the
-- host and port of its base URL, and only over HTTPS (plain HTTP is allowed
-- for loopback hosts so that tests can use a local server).
--
-- @module msgraph.migration.client
-- @usage
-- local client = require "msgraph.migration.client"
-- local graph = client.new{ token = os.getenv("GRAPH_TOKEN") }
-- for event in graph:progress_events(container_id, job_id) do
--   print(require("msgraph.migration").type(event), event.eventDateTime)
-- end

local migration = require "msgraph.migration"
local socket_url = require "socket.url"

local M = {}

--- Base URL of the Graph v1.0 endpoint, the default.
M.DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"

--- Base URLs selectable with the `version` option.
M.BASE_URLS = {
  ["v1.0"] = "https://graph.microsoft.com/v1.0",
  beta = "https://graph.microsoft.com/beta",
}

--- Default number of attempts per request, the first one included.
M.DEFAULT_MAX_ATTEMPTS = 4

--- Default cap in seconds on the sum of all retry delays of one request.
-- It matches the default cap of the Microsoft Graph SDK retry handler.
M.DEFAULT_MAX_TOTAL_DELAY = 180

--- Default first backoff delay in seconds when no Retry-After is sent.
-- Each further retry doubles it before jitter is applied.
M.DEFAULT_BACKOFF_BASE = 3

--- Default limit in seconds for one HTTP exchange.
M.DEFAULT_TIMEOUT = 60

--- HTTP statuses that the client retries.
M.RETRY_STATUSES = { [429] = true, [503] = true, [504] = true }

local REASON_PHRASES = {
  [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict",
  [410] = "Gone", [412] = "Precondition Failed", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

local MAX_REMEMBERED_TOKENS = 8
local BODY_SNIPPET_LENGTH = 120

---------------------------------------------------------------------------
-- Error objects
---------------------------------------------------------------------------

--- Error raised by the client.
--
-- Every error is a table with this metatable, so `pcall` returns it intact
-- and `tostring` gives one readable line. Fields:
--
-- * `kind`, one of:
--   `"graph"` for a non-2xx response,
--   `"transport"` for a connection failure,
--   `"timeout"` when the exchange took longer than the `timeout` option,
--   `"tls"` for a certificate or handshake failure,
--   `"decode"` for a 2xx page that is not a valid progressEvents page,
--   `"paging"` for a next link that repeats an earlier page or is not an
--   absolute URL,
--   `"security"` for a URL that may not receive the token,
--   `"token"` when the token function failed.
-- * `message`: Graph's `error.message` for `"graph"` errors, otherwise a
--   description of the failure.
-- * `method`, `url`: the request that failed.
-- * `status`: HTTP status, when a response arrived.
-- * `code`: Graph's `error.code`.
-- * `inner_codes`: array of the `code` values found while walking the
--   `innerError` (or `innererror`) chain, outermost first.
-- * `request_id`, `client_request_id`: from the envelope, else from the
--   response headers. `client_request_id` is the id the client sent.
-- * `date`: the envelope's `innerError.date` text as sent, which has no
--   zone, and `date_epoch`, the same instant read as UTC in seconds.
-- * `retry_after`: seconds from the Retry-After header, if one was sent.
-- * `attempts`: how many attempts were made.
-- * `content_type`, `body`: the response body, for errors without a Graph
--   error envelope.
-- @table Error
local Error = {}
Error.__index = Error
Error.__name = "msgraph.migration.client.Error"
M.Error = Error

local function one_line(text, max_length)
  text = tostring(text):gsub("[%c]+", " ")
  if max_length and #text > max_length then
    text = text:sub(1, max_length) .. "..."
  end
  return text
end

local function reason_phrase(status)
  local phrase = REASON_PHRASES[status]
  return phrase and (" " .. phrase) or ""
end

local function error_context(err)
  local parts = {}
  if err.method and err.url then
    parts[#parts + 1] = err.method .. " " .. err.url
  end
  if err.request_id then
    parts[#parts + 1] = "request-id " .. err.request_id
  end
  if err.client_request_id then
    parts[#parts + 1] = "client-request-id " .. err.client_request_id
  end
  if err.date then
    parts[#parts + 1] = "date " .. err.date
  end
  if err.retry_after then
    parts[#parts + 1] = string.format("retry-after %gs", err.retry_after)
  end
  if err.attempts and err.attempts > 1 then
    parts[#parts + 1] = err.attempts .. " attempts"
  end
  if #parts == 0 then
    return ""
  end
  return " [" .. table.concat(parts, "; ") .. "]"
end

local function describe_graph_error(err)
  local line = "Graph request failed with HTTP " .. err.status .. reason_phrase(err.status)
  if err.code then
    line = line .. ", code " .. err.code
    if #err.inner_codes > 0 then
      line = line .. " (inner codes " .. table.concat(err.inner_codes, ", ") .. ")"
    end
    if err.message then
      line = line .. ": " .. err.message
    end
  elseif err.body and err.body ~= "" then
    line = line .. string.format(" and a body that is not a Graph error envelope (%s, %d bytes: %s)",
      err.content_type or "no content type", #err.body, one_line(err.body, BODY_SNIPPET_LENGTH))
  else
    line = line .. " and an empty body"
  end
  return line
end

--- Format the error as one line of text.
-- @treturn string the description, for example
--   `Graph request failed with HTTP 404 Not Found, code migrationNotFound ...`
function Error:__tostring()
  local line
  if self.kind == "graph" then
    line = describe_graph_error(self)
  elseif self.kind == "timeout" then
    line = "Graph request timed out: " .. tostring(self.message)
  else
    line = "Graph request failed (" .. self.kind .. "): " .. tostring(self.message)
  end
  return one_line(line .. error_context(self))
end

--- Check whether the error carries a Graph error code.
-- The top-level code and every inner code count, compared without regard to
-- case because Graph services vary the casing (`TooManyRequests`,
-- `tooManyRequests`).
-- @tparam string code the code to look for, for example `"jobProgressExpired"`
-- @treturn boolean true when the code is present
-- @usage if err:has_code("jobProgressExpired") then ... end
function Error:has_code(code)
  code = code:lower()
  if self.code and self.code:lower() == code then
    return true
  end
  for _, inner in ipairs(self.inner_codes or {}) do
    if inner:lower() == code then
      return true
    end
  end
  return false
end

--- Check whether a value is an error raised by this client.
-- @param value any value, typically the second result of `pcall`
-- @tparam[opt] string kind also require this `kind`, for example `"graph"`
-- @treturn boolean
-- @usage local ok, err = pcall(graph.list_progress_events, graph, container_id, job_id)
-- if not ok and client.is_error(err, "graph") and err.status == 404 then ... end
function M.is_error(value, kind)
  if getmetatable(value) ~= Error then
    return false
  end
  return kind == nil or value.kind == kind
end

local function new_error(fields)
  fields.inner_codes = fields.inner_codes or {}
  return setmetatable(fields, Error)
end

---------------------------------------------------------------------------
-- URL helpers
---------------------------------------------------------------------------

local DEFAULT_PORTS = { http = 80, https = 443 }

-- Splits an absolute http(s) URL into scheme, lower-case host and port.
-- Returns nil for anything else, including URLs with user information,
-- because "user@host" can disguise the real host.
local function parse_origin(absolute_url)
  -- The transport connects to the host that socket.url reads, which ends the
  -- authority only at "/": in "http://a?@b/" it reads host b. Both readings
  -- must agree, or the token could reach a host this check never saw.
  local socket_reading = socket_url.parse(absolute_url)
  if not socket_reading or socket_reading.userinfo then
    return nil
  end

  local scheme, authority = absolute_url:match("^(%a[%w+.-]*)://([^/?#]*)")
  if not scheme then
    return nil
  end
  scheme = scheme:lower()
  if not DEFAULT_PORTS[scheme] or authority:find("@", 1, true) then
    return nil
  end

  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then
    host, port = authority:match("^([^:]+):?(%d*)$")
  end
  if not host or host == "" then
    return nil
  end
  port = port ~= "" and tonumber(port) or DEFAULT_PORTS[scheme]
  if (socket_reading.host or ""):lower() ~= host:lower()
    or (tonumber(socket_reading.port) or DEFAULT_PORTS[scheme]) ~= port then
    return nil
  end
  return { scheme = scheme, host = host:lower(), port = port }
end

local function is_loopback_host(host)
  if host == "localhost" or host == "::1" then
    return true
  end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then
    return false
  end
  for _, octet in ipairs({ a, b, c, d }) do
    if tonumber(octet) > 255 then
      return false
    end
  end
  return tonumber(a) == 127
end

local function same_origin(first, second)
  return first.scheme == second.scheme and first.host == second.host and first.port == second.port
end

--- Percent-encode a path segment.
-- Every byte outside the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~`) is
-- encoded, so container ids such as `b!Qm9u...` become `b%21Qm9u...`.
-- @tparam string segment raw text
-- @treturn string encoded text
-- @usage client.encode_segment("b!abc") --> "b%21abc"
function M.encode_segment(segment)
  return (segment:gsub("[^%w%-%._~]", function(byte)
    return string.format("%%%02X", byte:byte())
  end))
end

--- Build the path of the List progressEvents method.
-- @tparam string container_id file storage container id
-- @tparam string job_id migration job id
-- @treturn string path relative to the base URL, starting with `/`
-- @usage client.progress_events_path("b!abc", "5d0c...")
-- --> "/storage/fileStorage/containers/b%21abc/migrationJobs/5d0c.../progressEvents"
function M.progress_events_path(container_id, job_id)
  local arguments = { { "container_id", container_id }, { "job_id", job_id } }
  for _, argument in ipairs(arguments) do
    local name, value = argument[1], argument[2]
    if type(value) ~= "string" or value == "" then
      local got = type(value) == "string" and "an empty string" or type(value)
      error(name .. " must be a non-empty string, got " .. got, 2)
    end
  end
  return "/storage/fileStorage/containers/" .. M.encode_segment(container_id)
    .. "/migrationJobs/" .. M.encode_segment(job_id) .. "/progressEvents"
end

---------------------------------------------------------------------------
-- Header and body parsing
---------------------------------------------------------------------------

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

-- Days from 1970-01-01 to the given proleptic Gregorian date.
local function days_from_civil(year, month, day)
  if month <= 2 then
    year = year - 1
  end
  local era = (year >= 0 and year or year - 399) // 400
  local year_of_era = year - era * 400
  local shifted_month = (month + 9) % 12
  local day_of_year = (153 * shifted_month + 2) // 5 + day - 1
  local day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
  return era * 146097 + day_of_era - 719468
end

local function epoch_seconds(year, month, day, hour, minute, second)
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
end

-- Parses an HTTP-date (RFC 9110: IMF-fixdate, RFC 850 and asctime forms)
-- into seconds since the epoch, or returns nil.
local function parse_http_date(text)
  local day, month, year, hour, minute, second =
    text:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not day then
    day, month, year, hour, minute, second =
      text:match("^%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if year then
      -- RFC 9110 reads a two-digit year more than 50 years ahead as the past
      -- century; a fixed 1970-2069 window is close enough for Retry-After.
      year = tonumber(year)
      year = year < 70 and 2000 + year or 1900 + year
    end
  end
  if not day then
    month, day, hour, minute, second, year =
      text:match("^%a+ (%a%a%a) +(%d+) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  end
  local month_number = month and MONTHS[month:lower()]
  if not month_number then
    return nil
  end
  return epoch_seconds(tonumber(year), month_number, tonumber(day),
    tonumber(hour), tonumber(minute), tonumber(second))
end

-- Reads Retry-After as delta seconds or as an HTTP-date relative to `now`.
-- Returns the wait in seconds (never negative), or nil when the header is
-- missing or invalid.
local function parse_retry_after(value, now)
  if type(value) ~= "string" then
    return nil
  end
  value = value:match("^%s*(.-)%s*$")
  if value:match("^%d+$") then
    return tonumber(value)
  end
  local instant = parse_http_date(value)
  if not instant then
    return nil
  end
  return math.max(instant - now, 0)
end

-- Reads a Graph timestamp such as "2025-11-20T14:40:02" into seconds since
-- the epoch. A timestamp without a zone is read as UTC, which is what Graph
-- means by it.
local function parse_graph_date(text)
  if type(text) ~= "string" then
    return nil
  end
  local year, month, day, hour, minute, second, fraction, zone =
    text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not year then
    return nil
  end
  local seconds = epoch_seconds(tonumber(year), tonumber(month), tonumber(day),
    tonumber(hour), tonumber(minute), tonumber(second))
  if fraction ~= "" and fraction ~= "." then
    seconds = seconds + tonumber("0" .. fraction)
  end
  if zone == "" or zone == "Z" then
    return seconds
  end
  local sign, zone_hours, zone_minutes = zone:match("^([+-])(%d%d):(%d%d)$")
  if not sign then
    return nil
  end
  local offset = tonumber(zone_hours) * 3600 + tonumber(zone_minutes) * 60
  return sign == "+" and seconds - offset or seconds + offset
end

local function json_decode(text)
  local ok_module, cjson = pcall(require, "cjson.safe")
  if not ok_module then
    return nil
  end
  return cjson.decode(text)
end

local function string_field(object, ...)
  for _, name in ipairs({ ... }) do
    local value = object[name]
    if type(value) == "string" and value ~= "" then
      return value
    end
  end
  return nil
end

-- Fills `err` from a Graph error envelope `{"error": {...}}` and returns
-- true, or returns false when the body is not such an envelope.
local function read_error_envelope(err, body)
  local document = json_decode(body)
  if type(document) ~= "table" or type(document.error) ~= "table" then
    return false
  end
  local envelope = document.error
  if type(envelope.code) ~= "string" then
    return false
  end

  err.code = envelope.code
  err.message = string_field(envelope, "message")
  err.target = string_field(envelope, "target")

  -- Walk the innerError chain. Services spell the key either innerError or
  -- innererror.
  local inner = envelope.innerError or envelope.innererror
  local depth = 0
  while type(inner) == "table" and depth < 32 do
    depth = depth + 1
    local code = string_field(inner, "code")
    if code then
      err.inner_codes[#err.inner_codes + 1] = code
    end
    err.request_id = err.request_id or string_field(inner, "request-id", "requestId")
    err.client_request_id = err.client_request_id or string_field(inner, "client-request-id", "clientRequestId")
    err.date = err.date or string_field(inner, "date")
    inner = inner.innerError or inner.innererror
  end
  return true
end

---------------------------------------------------------------------------
-- Request ids
---------------------------------------------------------------------------

local function random_bytes(count)
  local source = io.open("/dev/urandom", "rb")
  if source then
    local bytes = source:read(count)
    source:close()
    if bytes and #bytes == count then
      return bytes
    end
  end
  -- Fallback for systems without /dev/urandom. It is not cryptographically
  -- strong, which is acceptable for a correlation id.
  local parts = {}
  for index = 1, count do
    parts[index] = string.char(math.random(0, 255))
  end
  return table.concat(parts)
end

--- Generate a random UUID version 4 (RFC 9562), as sent in `client-request-id`.
-- @treturn string lower-case UUID, for example `"3f2b8c1e-9d4a-4f6b-8e2c-1a7d5b9e0c34"`
function M.uuid_v4()
  local bytes = { random_bytes(16):byte(1, 16) }
  bytes[7] = (bytes[7] & 0x0F) | 0x40
  bytes[9] = (bytes[9] & 0x3F) | 0x80
  local hex = {}
  for index, byte in ipairs(bytes) do
    hex[index] = string.format("%02x", byte)
  end
  local text = table.concat(hex)
  return text:sub(1, 8) .. "-" .. text:sub(9, 12) .. "-" .. text:sub(13, 16)
    .. "-" .. text:sub(17, 20) .. "-" .. text:sub(21, 32)
end

---------------------------------------------------------------------------
-- Client
---------------------------------------------------------------------------

local Client = {}
Client.__index = Client
M.Client = Client

local function check_option(options, name, expected_type, predicate, expectation)
  local value = options[name]
  if value == nil then
    return
  end
  if type(value) ~= expected_type or (predicate and not predicate(value)) then
    -- Level 4: the caller of client.new, past validate_options and new.
    error(string.format("option %s must be %s, got %s", name, expectation,
      type(value) == expected_type and tostring(value) or type(value)), 4)
  end
end

local function positive(value)
  return value > 0
end

local function non_negative(value)
  return value >= 0
end

-- Options that client.new accepts. A misspelled one raises instead of falling back to a default.
local KNOWN_OPTIONS = {
  base_url = true, version = true, token = true, transport = true, timeout = true,
  max_attempts = true, max_total_delay = true, backoff_base = true, sleep = true,
  clock = true, random = true, on_retry = true, ca_file = true, insecure = true,
}

local function validate_options(options)
  for name in pairs(options) do
    if not KNOWN_OPTIONS[name] then
      error("unknown option " .. tostring(name) .. " to client.new", 3)
    end
  end
  check_option(options, "base_url", "string", nil, "a URL string")
  check_option(options, "version", "string", function(value) return M.BASE_URLS[value] ~= nil end,
    '"v1.0" or "beta"')
  check_option(options, "timeout", "number", positive, "a positive number of seconds")
  check_option(options, "max_attempts", "number", function(value)
    return value >= 1 and math.type(value) == "integer"
  end, "an integer of at least 1")
  check_option(options, "max_total_delay", "number", non_negative, "a non-negative number of seconds")
  check_option(options, "backoff_base", "number", non_negative, "a non-negative number of seconds")
  check_option(options, "sleep", "function", nil, "a function")
  check_option(options, "clock", "function", nil, "a function")
  check_option(options, "random", "function", nil, "a function")
  check_option(options, "on_retry", "function", nil, "a function")
  check_option(options, "ca_file", "string", nil, "a path string")
  check_option(options, "insecure", "boolean", nil, "a boolean")

  local token_type = type(options.token)
  if token_type ~= "string" and token_type ~= "function" then
    error("option token is required and must be a string or a function that returns one, got "
      .. token_type, 3)
  end
  if token_type == "string" and options.token == "" then
    error("option token must not be an empty string", 3)
  end

  local transport = options.transport
  if transport ~= nil then
    local callable = type(transport) == "function"
      or (type(transport) == "table" and type(transport.request) == "function")
    if not callable then
      error("option transport must be a function or an object with a request method, got "
        .. type(transport), 3)
    end
    if options.ca_file ~= nil or options.insecure ~= nil then
      error("options ca_file and insecure configure the default transport and cannot be"
        .. " combined with option transport", 3)
    end
  end
  if options.base_url ~= nil and options.version ~= nil then
    error("give either option base_url or option version, not both", 3)
  end
end

local function default_sleep(seconds)
  require("socket").sleep(seconds)
end

local function default_clock()
  return require("socket").gettime()
end

--- Create a Graph client.
-- @tparam table options
-- @tparam string|function options.token bearer token, or a function called
--   before every request (retries included) that returns the current token,
--   so that callers can refresh it
-- @tparam[opt] string options.base_url Graph base URL (default
--   `https://graph.microsoft.com/v1.0`). It must use HTTPS, except for
--   loopback hosts (127.0.0.0/8, `::1`, `localhost`).
-- @tparam[opt] string options.version `"v1.0"` or `"beta"`, instead of `base_url`
-- @tparam[opt] function|table options.transport custom transport (see
--   `msgraph.migration.transport`); the default uses LuaSocket and LuaSec
-- @tparam[opt=60] number options.timeout seconds allowed for one HTTP exchange
-- @tparam[opt=4] integer options.max_attempts attempts per request, the first included
-- @tparam[opt=180] number options.max_total_delay cap in seconds on the sum
--   of retry delays of one request
-- @tparam[opt=3] number options.backoff_base first backoff delay in seconds
--   when the server sends no Retry-After
-- @tparam[opt] function options.sleep `sleep(seconds)`, default `socket.sleep`
-- @tparam[opt] function options.clock `clock()` returning seconds since the
--   epoch, default `socket.gettime`; used to read Retry-After dates
-- @tparam[opt] function options.random `random()` returning a number in
--   [0, 1), default `math.random`; used for backoff jitter
-- @tparam[opt] function options.on_retry called before each retry with a
--   table `{ status, attempt, delay, url, method, code, request_id }`, where
--   `attempt` is the retry number sent in `Retry-Attempt`
-- @tparam[opt] string options.ca_file PEM file of extra trusted CA certificates
-- @tparam[opt=false] boolean options.insecure disable TLS verification
-- @treturn Client the client
-- @raise a string naming the invalid option
-- @usage local graph = client.new{ version = "beta", token = function() return cache:token() end }
function M.new(options)
  if type(options) ~= "table" then
    error("client.new expects an options table, got " .. type(options), 2)
  end
  validate_options(options)

  local base_url = options.base_url or M.BASE_URLS[options.version or "v1.0"]
  base_url = base_url:gsub("/+$", "")
  local origin = parse_origin(base_url)
  if not origin then
    error("option base_url must be an absolute http or https URL without user information, got "
      .. base_url, 2)
  end
  if origin.scheme ~= "https" and not is_loopback_host(origin.host) then
    error("option base_url must use https; plain http is allowed only for loopback hosts"
      .. " (127.0.0.0/8, ::1, localhost), got " .. base_url, 2)
  end

  local self = setmetatable({}, Client)
  self.base_url = base_url
  self.origin = origin
  self.token = options.token
  self.timeout = options.timeout or M.DEFAULT_TIMEOUT
  self.max_attempts = options.max_attempts or M.DEFAULT_MAX_ATTEMPTS
  self.max_total_delay = options.max_total_delay or M.DEFAULT_MAX_TOTAL_DELAY
  self.backoff_base = options.backoff_base or M.DEFAULT_BACKOFF_BASE
  self.sleep = options.sleep or default_sleep
  self.clock = options.clock or default_clock
  self.random = options.random or math.random
  self.on_retry = options.on_retry
  self.used_tokens = {}

  local transport = options.transport
  if transport == nil then
    transport = require("msgraph.migration.transport").new{
      ca_file = options.ca_file,
      insecure = options.insecure,
    }
  end
  self.transport = transport
  return self
end

-- Replaces each of the last MAX_REMEMBERED_TOKENS tokens this client sent,
-- and any copy of one that a decode error cut short, with "[REDACTED]". So a
-- server that echoes the Authorization header cannot leak it into errors.
local function redact(self, text)
  if type(text) ~= "string" then
    return text
  end
  for _, token in ipairs(self.used_tokens) do
    local start = text:find(token, 1, true)
    while start do
      text = text:sub(1, start - 1) .. "[REDACTED]" .. text:sub(start + #token)
      start = text:find(token, start + #"[REDACTED]", true)
    end
    -- Decode errors quote a value cut to 40 bytes and "...": a cut copy of the token counts too.
    text = text:gsub('"([^"]*)%.%.%."', function(excerpt)
      if #excerpt >= 8 and token:find(excerpt, 1, true) then
        return '"[REDACTED]"'
      end
    end)
  end
  return text
end

local function redact_error(self, err)
  for name, value in pairs(err) do
    if type(value) == "string" then
      err[name] = redact(self, value)
    end
  end
  for index, code in ipairs(err.inner_codes) do
    err.inner_codes[index] = redact(self, code)
  end
  return err
end

local function remember_token(self, token)
  for _, known in ipairs(self.used_tokens) do
    if known == token then
      return
    end
  end
  table.insert(self.used_tokens, 1, token)
  self.used_tokens[MAX_REMEMBERED_TOKENS + 1] = nil
end

local function current_token(self, method, url)
  local token = self.token
  if type(token) == "function" then
    local ok, value, reason = pcall(token)
    if not ok or type(value) ~= "string" or value == "" then
      local detail = not ok and tostring(value) or reason or ("it returned " .. type(value))
      -- A failing token provider could quote the old token in its message.
      error(redact_error(self, new_error{
        kind = "token", method = method, url = url,
        message = "the token function did not return a non-empty string: " .. tostring(detail),
      }), 0)
    end
    token = value
  end
  if token:find("[\r\n]") then
    error(new_error{
      kind = "token", method = method, url = url,
      message = "the token contains a line break and cannot be sent in a header",
    }, 0)
  end
  remember_token(self, token)
  return token
end

-- Converts whatever a transport raised into a client error.
local function transport_failure(self, raised, method, url, client_request_id)
  local kind, message = "transport", raised
  if type(raised) == "table" then
    if raised.kind == "timeout" or raised.kind == "tls" or raised.kind == "transport" then
      kind = raised.kind
    end
    message = raised.message or raised
  end
  return redact_error(self, new_error{
    kind = kind, method = method, url = url,
    client_request_id = client_request_id,
    message = tostring(message),
  })
end

-- Sends one attempt and returns status, headers (lower-case names), body.
local function send_once(self, method, url, headers, client_request_id)
  local transport = self.transport
  local request = { method = method, url = url, headers = headers, timeout = self.timeout }
  local ok, status, response_headers, body = pcall(function()
    if type(transport) == "function" then
      return transport(request)
    end
    return transport:request(request)
  end)
  if not ok then
    error(transport_failure(self, status, method, url, client_request_id), 0)
  end
  if status == nil then
    error(transport_failure(self, response_headers or "the transport returned no status",
      method, url, client_request_id), 0)
  end
  if math.type(status) ~= "integer" then
    error(transport_failure(self, "the transport returned a status that is not an integer: "
      .. tostring(status), method, url, client_request_id), 0)
  end

  local lower_headers = {}
  for name, value in pairs(response_headers or {}) do
    lower_headers[tostring(name):lower()] = value
  end
  return status, lower_headers, body or ""
end

local function response_error(self, method, url, status, headers, body, client_request_id, attempts)
  local err = new_error{
    kind = "graph", method = method, url = url, status = status,
    content_type = headers["content-type"],
    retry_after = parse_retry_after(headers["retry-after"], self.clock()),
    attempts = attempts,
  }
  if not read_error_envelope(err, body) then
    err.body = body
  end
  err.request_id = err.request_id or headers["request-id"]
  err.client_request_id = err.client_request_id or headers["client-request-id"] or client_request_id
  err.date_epoch = parse_graph_date(err.date)
  return redact_error(self, err)
end

-- Returns the delay before retry number `retry`, or nil when the request
-- should not be retried.
local function retry_delay(self, err, retry, waited)
  if not M.RETRY_STATUSES[err.status] or retry >= self.max_attempts then
    return nil
  end
  local delay = err.retry_after
  if delay == nil then
    -- Exponential backoff with "equal jitter": half of the doubled delay is
    -- fixed and the other half random, so clients spread out their retries.
    local exponential = self.backoff_base * 2 ^ (retry - 1)
    delay = exponential / 2 + self.random() * exponential / 2
  end
  if waited + delay > self.max_total_delay then
    return nil
  end
  return delay
end

-- Raises a "security" error unless the URL has the base URL's origin, so
-- that the token is never sent anywhere else.
local function check_origin(self, method, url, origin)
  if not same_origin(origin, self.origin) then
    error(new_error{
      kind = "security", method = method, url = redact(self, url),
      message = string.format("the URL does not match the base URL's scheme, host and port (%s://%s:%d),"
        .. " so the request was not sent and the token was withheld",
        self.origin.scheme, self.origin.host, self.origin.port),
    }, 0)
  end
end

--- Send a request to Graph, retrying throttled responses.
-- The URL must have the same scheme, host and port as the base URL.
-- Each attempt gets the current token and a fresh `client-request-id`.
-- Retries of 429, 503 and 504 wait for the Retry-After value, else use
-- exponential backoff with jitter, and send `Retry-Attempt`.
-- @tparam string method HTTP method, for example `"GET"`
-- @tparam string path_or_url a path starting with `/`, appended to the base
--   URL, or an absolute URL
-- @treturn string response body
-- @treturn table response headers with lower-case names
-- @treturn integer HTTP status (2xx)
-- @raise an `Error` for non-2xx responses and failures
-- @usage local body = graph:request("GET", "/storage/fileStorage/containers")
function Client:request(method, path_or_url)
  if type(method) ~= "string" or method == "" then
    error("method must be a non-empty string such as \"GET\", got " .. type(method), 2)
  end
  if type(path_or_url) ~= "string" then
    error("path_or_url must be a string, got " .. type(path_or_url), 2)
  end
  local url = path_or_url
  if url:sub(1, 1) == "/" then
    url = self.base_url .. url
  end
  local origin = parse_origin(url)
  if not origin then
    error("path_or_url must be a path starting with / or an absolute http or https URL"
      .. " without user information, got " .. redact(self, url), 2)
  end
  check_origin(self, method, url, origin)

  local waited = 0
  local attempt = 0
  while true do
    attempt = attempt + 1
    local client_request_id = M.uuid_v4()
    local headers = {
      ["accept"] = "application/json",
      ["authorization"] = "Bearer " .. current_token(self, method, url),
      ["client-request-id"] = client_request_id,
    }
    if attempt > 1 then
      headers["retry-attempt"] = tostring(attempt - 1)
    end

    local status, response_headers, body = send_once(self, method, url, headers, client_request_id)
    if status >= 200 and status <= 299 then
      return body, response_headers, status
    end

    local err = response_error(self, method, url, status, response_headers, body, client_request_id, attempt)
    local delay = retry_delay(self, err, attempt, waited)
    if not delay then
      error(err, 0)
    end
    if self.on_retry then
      self.on_retry{
        status = status, attempt = attempt, delay = delay, url = err.url, method = method,
        code = err.code, request_id = err.request_id,
      }
    end
    self.sleep(delay)
    waited = waited + delay
  end
end

local function decode_page(self, method, url, body, headers, status)
  local ok, events, next_link, context, extra = pcall(migration.decode_page, body)
  if ok and next_link ~= nil and type(next_link) ~= "string" then
    ok, events = false, "@odata.nextLink is a " .. type(next_link) .. ", not a string"
  end
  if not ok then
    error(redact_error(self, new_error{
      kind = "decode", method = method, url = url, status = status,
      request_id = headers["request-id"], client_request_id = headers["client-request-id"],
      message = "the response is not a valid progressEvents page: " .. tostring(events),
    }), 0)
  end
  return events, next_link, context, extra
end

--- Iterate over the pages of a job's progress events.
-- Paging follows `@odata.nextLink` verbatim until a page has none. A next
-- link that repeats an earlier request raises a `"paging"` error, and one
-- that points to another scheme, host or port raises a `"security"` error
-- without being requested.
-- @tparam string container_id file storage container id (percent-encoded here)
-- @tparam string job_id migration job id (percent-encoded here)
-- @treturn function iterator returning one page table per call:
--   `{ events = array, next_link = string|nil, context = string|nil,
--   extra = table|nil, url = string, number = integer }`
-- @usage for page in graph:progress_event_pages(container_id, job_id) do
--   print(page.number, #page.events)
-- end
function Client:progress_event_pages(container_id, job_id)
  local ok, path = pcall(M.progress_events_path, container_id, job_id)
  if not ok then
    error(path, 2)
  end
  local url = self.base_url .. path
  local requested = {}
  local number = 0
  local failure

  -- Fetches the next page; an error ends paging for good.
  local function next_page()
    if url == nil then
      return nil
    end
    if requested[url] then
      local repeated = url
      url = nil
      error(new_error{
        kind = "paging", method = "GET", url = redact(self, repeated),
        message = "the next link repeats a page that was already requested, so paging stopped"
          .. " to avoid an endless loop",
      }, 0)
    end
    if number > 0 and not parse_origin(url) then
      local invalid = url
      url = nil
      error(new_error{
        kind = "paging", method = "GET", url = redact(self, tostring(invalid)),
        message = "the next link is not an absolute http or https URL without user information",
      }, 0)
    end
    requested[url] = true
    number = number + 1

    local page_url = url
    url = nil
    local body, headers, status = self:request("GET", page_url)
    local events, next_link, context, extra = decode_page(self, "GET", page_url, body, headers, status)
    url = next_link
    return {
      events = events, next_link = next_link, context = context,
      extra = extra, url = page_url, number = number,
    }
  end

  -- After an error every further call raises it again, so that a caller
  -- who catches it cannot mistake the rest of the iteration for the end.
  return function()
    if failure ~= nil then
      error(failure, 0)
    end
    local fetched, page = pcall(next_page)
    if not fetched then
      failure = page
      error(page, 0)
    end
    return page
  end
end

--- Iterate over a job's progress events across all pages.
-- Pages are fetched as the iteration reaches them.
-- @tparam string container_id file storage container id
-- @tparam string job_id migration job id
-- @treturn function iterator returning one typed event per call
-- @raise an `Error` when a page cannot be fetched or decoded; once it has
-- raised, every further call raises the same error
-- @usage for event in graph:progress_events(container_id, job_id) do
--   print(event.id, event.eventDateTime)
-- end
function Client:progress_events(container_id, job_id)
  local ok, next_page = pcall(self.progress_event_pages, self, container_id, job_id)
  if not ok then
    error(next_page, 2)
  end
  local events, index = {}, 0
  return function()
    while true do
      index = index + 1
      if events[index] ~= nil then
        return events[index]
      end
      local page = next_page()
      if not page then
        return nil
      end
      events, index = page.events, 0
    end
  end
end

--- List all progress events of a job.
-- @tparam string container_id file storage container id
-- @tparam string job_id migration job id
-- @treturn table array of typed events, in the order Graph returned them
-- @raise an `Error` when a page cannot be fetched or decoded
-- @usage local events = graph:list_progress_events(container_id, job_id)
function Client:list_progress_events(container_id, job_id)
  local all = {}
  for event in self:progress_events(container_id, job_id) do
    all[#all + 1] = event
  end
  return all
end

return M
