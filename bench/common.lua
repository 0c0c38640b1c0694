-- Shared by the benchmark scripts, which run from the repository root.

local migration = require "msgraph.migration"

local common = {}

-- Returns the set of event type names (as migration.type returns them) whose
-- schema has the given property, read from the type tables.
function common.types_with(property)
  local names = {}
  for name, type_table in pairs(migration) do
    if type(type_table) == "table" and type_table.fields and type_table.spellings then
      for _, field in ipairs(type_table.fields) do
        if field == property then
          names[name] = true
        end
      end
    end
  end
  return names
end

return common
