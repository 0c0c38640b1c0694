--- Default HTTP transport for the Graph client, built on LuaSocket and LuaSec.
--
-- A transport is any function, or any object with a `request` method, that
-- takes one request table and returns the response:
--
--     status, headers, body = transport(request)
--     status, headers, body = transport:request(request)
--
-- The request table has these fields:
--
-- * `method` (string): the HTTP method, for example `"GET"`.
-- * `url` (string): the absolute URL. The transport must send its path and
--   query byte for byte, because Graph next links are opaque.
-- * `headers` (table): request headers with lower-case names.
-- * `timeout` (number or nil): the maximum seconds for the whole exchange.
--
-- On success the transport returns the numeric status, a table of response
-- headers with lower-case names, and the body as a string. It must not follow
-- redirects, so that the bearer token never reaches another host.
-- On failure it raises either a string or a table
-- `{ kind = "transport" | "timeout" | "tls", message = string }`.
-- It may instead return `nil, message`, which the client treats as a
-- transport failure.
--
-- @module msgraph.migration.transport

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local url = require "socket.url"

local M = {}

--- Version of this library, sent in the `User-Agent` header.
M.VERSION = "0.1.0"

--- Bundle of trusted CA certificates that Debian and Ubuntu install.
M.SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"

--- Directory of hashed CA certificates that Debian and Ubuntu install.
-- It stays trusted when the `ca_file` option adds an extra CA bundle.
M.SYSTEM_CA_PATH = "/etc/ssl/certs"

--- Default limit in seconds for one request when the caller gives none.
M.DEFAULT_TIMEOUT = 60

-- Error strings that mean a socket operation ran out of time. LuaSec
-- reports a timed-out TLS read or write as "wantread" or "wantwrite".
local TIMEOUT_REASONS = { timeout = true, wantread = true, wantwrite = true }

local function fail(kind, message)
  error({ kind = kind, message = message }, 0)
end

local function file_exists(path)
  local handle = io.open(path, "r")
  if handle then
    handle:close()
    return true
  end
  return false
end

-- Returns the request target (path and query) exactly as written in the
-- URL, so that next links reach the server byte for byte whatever the
-- installed socket.url version does when it rebuilds a URL.
local function request_target(absolute_url)
  local rest = absolute_url:match("^[%a][%w+.-]*://[^/?#]*(.*)$")
  if not rest then
    return nil
  end
  rest = rest:gsub("#.*$", "")
  if rest == "" then
    return "/"
  end
  if rest:sub(1, 1) == "?" then
    return "/" .. rest
  end
  return rest
end

local function is_ip_literal(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

-- Checks a DNS name from a certificate against the requested host name.
-- A wildcard may only stand for the whole left-most label ("*.example.com").
local function dns_name_matches(pattern, host)
  pattern = pattern:lower()
  if pattern == host then
    return true
  end
  local suffix = pattern:match("^%*(%..+%..+)$")
  if not suffix then
    return false
  end
  local first_label, rest = host:match("^([^.]+)(%..+)$")
  return first_label ~= nil and rest == suffix
end

-- Verifies that the peer certificate names the host that was requested.
-- LuaSec 1.2 has OpenSSL check the chain but not the name, so the
-- transport does this step itself. Only the subjectAltName extension
-- counts, and the subject CN is ignored.
-- NOTE: IPv6 addresses are compared as text, so "::1" and "0:0:0:0:0:0:0:1"
-- do not match each other.
local function verify_host_name(tls_socket, host)
  local certificate = tls_socket:getpeercertificate()
  if not certificate then
    return false, "the server sent no certificate"
  end
  local extensions = certificate:extensions() or {}
  local alt_names = extensions["2.5.29.17"]
  if not alt_names then
    return false, "the server certificate has no subjectAltName extension"
  end

  host = host:lower()
  if is_ip_literal(host) then
    for _, address in ipairs(alt_names.iPAddress or {}) do
      if address:lower() == host then
        return true
      end
    end
  else
    for _, name in ipairs(alt_names.dNSName or {}) do
      if dns_name_matches(name, host) then
        return true
      end
    end
  end
  return false, "the server certificate is not valid for host " .. host
end

-- Builds the TLS parameters for LuaSec from the transport options.
local function tls_parameters(options)
  local params = {
    mode = "client",
    protocol = "any",
    options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
  }
  if options.insecure then
    params.verify = "none"
  elseif options.ca_file then
    params.verify = { "peer", "fail_if_no_peer_cert" }
    params.cafile = options.ca_file
    params.capath = options.system_ca_path
  else
    params.verify = { "peer", "fail_if_no_peer_cert" }
    params.cafile = options.system_ca_file
  end
  return params
end

-- Wraps a socket so that every operation waits at most until the request
-- deadline. LuaSocket's http module calls settimeout with its own global
-- value, so the wrapper ignores that value.
local function deadline_socket(raw_socket, deadline)
  local wrapper = { sock = raw_socket }

  local function remaining()
    return deadline - socket.gettime()
  end

  local function forward(name)
    return function(self, ...)
      local left = remaining()
      if left <= 0 then
        return nil, "timeout"
      end
      self.sock:settimeout(left)
      return self.sock[name](self.sock, ...)
    end
  end

  wrapper.send = forward("send")
  wrapper.receive = forward("receive")

  function wrapper:settimeout()
    local left = remaining()
    return self.sock:settimeout(left > 0 and left or 0)
  end

  -- Other methods (close, getfd, dirty) go to the current socket, which is
  -- the TLS socket once the handshake has replaced the TCP one.
  return setmetatable(wrapper, {
    __index = function(self, name)
      local method = rawget(self, "sock")[name]
      if type(method) ~= "function" then
        return method
      end
      return function(_, ...)
        return method(rawget(self, "sock"), ...)
      end
    end,
  })
end

-- Returns the `create` function that socket.http uses to open a connection.
-- For HTTPS it wraps the TCP socket in TLS, checks the certificate chain and
-- host name, and records TLS failures in `state.tls_error`.
local function connection_factory(scheme, host, options, deadline, state)
  return function()
    local tcp, create_error = socket.tcp()
    if not tcp then
      return nil, create_error
    end
    local conn = deadline_socket(tcp, deadline)

    function conn:connect(address, port)
      self.sock:settimeout(math.max(deadline - socket.gettime(), 0))
      local ok, connect_error = self.sock:connect(address, port)
      if not ok then
        return nil, connect_error
      end
      if scheme ~= "https" then
        return 1
      end

      local ssl = require "ssl"
      local tls_socket, wrap_error = ssl.wrap(self.sock, tls_parameters(options))
      if not tls_socket then
        state.tls_error = "could not set up TLS: " .. tostring(wrap_error)
        return nil, state.tls_error
      end
      if not is_ip_literal(host) then
        tls_socket:sni(host)
      end
      tls_socket:settimeout(math.max(deadline - socket.gettime(), 0))
      local shaken, handshake_error = tls_socket:dohandshake()
      if not shaken then
        if TIMEOUT_REASONS[handshake_error] then
          return nil, "timeout"
        end
        state.tls_error = "TLS handshake with " .. host .. " failed: " .. tostring(handshake_error)
        return nil, state.tls_error
      end
      if not options.insecure then
        local matches, mismatch = verify_host_name(tls_socket, host)
        if not matches then
          tls_socket:close()
          state.tls_error = "TLS certificate check for " .. host .. " failed: " .. mismatch
          return nil, state.tls_error
        end
      end
      self.sock = tls_socket
      return 1
    end

    return conn
  end
end

local Transport = {}
Transport.__index = Transport

--- Create the default transport.
-- TLS certificates and host names are verified unless `insecure` is true.
-- @tparam[opt] table options
-- @tparam[opt] string options.ca_file PEM file of extra trusted CA
--   certificates, trusted in addition to the system store
-- @tparam[opt=false] boolean options.insecure disable TLS certificate and
--   host name verification (for debugging only)
-- @tparam[opt] string options.system_ca_file CA bundle used when no
--   `ca_file` is given (default `SYSTEM_CA_FILE`)
-- @tparam[opt] string options.system_ca_path hashed CA directory trusted
--   besides `ca_file` (default `SYSTEM_CA_PATH`)
-- @tparam[opt] string options.user_agent value of the `User-Agent` header
-- @treturn table a transport object with a `request` method
-- @usage local transport = require("msgraph.migration.transport").new{ ca_file = "corp-ca.pem" }
function M.new(options)
  options = options or {}
  if type(options) ~= "table" then
    error("transport options must be a table, got " .. type(options), 2)
  end
  if options.ca_file ~= nil then
    if type(options.ca_file) ~= "string" or options.ca_file == "" then
      error("option ca_file must be a path string, got " .. tostring(options.ca_file), 2)
    end
    if not file_exists(options.ca_file) then
      error("option ca_file names a file that cannot be read: " .. options.ca_file, 2)
    end
  end
  if options.insecure ~= nil and type(options.insecure) ~= "boolean" then
    error("option insecure must be a boolean, got " .. type(options.insecure), 2)
  end

  local self = setmetatable({}, Transport)
  self.options = {
    ca_file = options.ca_file,
    insecure = options.insecure == true,
    system_ca_file = options.system_ca_file or M.SYSTEM_CA_FILE,
    system_ca_path = options.system_ca_path or M.SYSTEM_CA_PATH,
  }
  self.user_agent = options.user_agent or ("msgraph-migration-lua/" .. M.VERSION)
  return self
end

--- Send one HTTP request and read the whole response.
-- Redirects are returned to the caller, not followed.
-- @tparam table request `{ method, url, headers, timeout }` as described
--   in the module documentation
-- @treturn integer HTTP status
-- @treturn table response headers with lower-case names
-- @treturn string response body
-- @raise a table `{ kind = "transport" | "timeout" | "tls", message = string }`
-- @usage local status, headers, body = transport:request{
--   method = "GET", url = "https://graph.microsoft.com/v1.0/me",
--   headers = { authorization = "Bearer " .. token }, timeout = 30 }
function Transport:request(request)
  local parsed = url.parse(request.url or "")
  if not parsed or (parsed.scheme ~= "http" and parsed.scheme ~= "https") then
    fail("transport", "URL must start with http:// or https://, got " .. tostring(request.url))
  end
  if not parsed.host or parsed.host == "" then
    fail("transport", "URL has no host: " .. request.url)
  end
  local target = request_target(request.url)

  local headers = {}
  for name, value in pairs(request.headers or {}) do
    headers[name:lower()] = value
  end
  headers["user-agent"] = headers["user-agent"] or self.user_agent

  local timeout = request.timeout or M.DEFAULT_TIMEOUT
  local deadline = socket.gettime() + timeout
  local state = {}
  local chunks = {}

  local ok, status, response_headers = http.request{
    url = request.url,
    uri = target,
    method = request.method or "GET",
    headers = headers,
    sink = ltn12.sink.table(chunks),
    redirect = false,
    create = connection_factory(parsed.scheme, parsed.host, self.options, deadline, state),
  }

  if not ok then
    local reason = tostring(status)
    if state.tls_error then
      fail("tls", state.tls_error)
    elseif TIMEOUT_REASONS[reason] then
      fail("timeout", string.format("no complete response within %g seconds", timeout))
    else
      fail("transport", reason)
    end
  end

  return status, response_headers or {}, table.concat(chunks)
end

return M
