-- Shared by the specs: fixture access and the round-trip law.
local migration = require "msgraph.migration"
local cjson = require "cjson"

local helpers = {}

helpers.fixture_dir = "spec/fixtures/"

function helpers.read(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("a")
  file:close()
  return text
end

-- Every page the specs check the round-trip law on.
helpers.pages = {
  "spec/fixtures/page-a.json",
  "spec/fixtures/page-b.json",
  "spec/fixtures/page-c.json",
  "spec/fixtures/all-types.json",
  "examples/data/sample-page.json",
}

-- Deep comparison of values cjson decoded; numbers compare as numbers.
function helpers.same_json(a, b)
  if type(a) ~= type(b) then
    return false
  end
  if type(a) ~= "table" then
    return a == b
  end
  for k, v in pairs(a) do
    if not helpers.same_json(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

helpers.cjson = cjson
helpers.migration = migration

return helpers
