rockspec_format = "3.0"
package = "msgraph-migration"
version = "scm-1"

source = {
  url = "git+https://github.com/msgraph-migration/msgraph-migration.git",
  branch = "main",
}

description = {
  summary = "Typed Microsoft Graph migration progress events for Lua, with a C core",
  detailed = [[
Decodes the progressEvents pages of SharePoint and OneDrive migration jobs
into typed, immutable userdata (YAJL in C) and encodes them back without
loss: exact Int64, original timestamp text, unknown properties kept. A Lua
layer adds job summaries, a streaming page iterator and a Graph client with
paging, throttling and Graph errors.
]],
  license = "MIT",
  homepage = "https://github.com/msgraph-migration/msgraph-migration",
  issues_url = "https://github.com/msgraph-migration/msgraph-migration/issues",
}

dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson",
  "luasocket",
  "luasec",
}

test_dependencies = {
  "busted",
}

test = {
  type = "busted",
}

external_dependencies = {
  YAJL = {
    header = "yajl/yajl_parse.h",
    library = "yajl",
  },
}

build = {
  type = "builtin",
  modules = {
    ["msgraph.migration.core"] = {
      sources = {
        "src/arena.c", "src/core.c", "src/datetime.c", "src/decode.c",
        "src/encode.c", "src/record.c", "src/schema.c",
      },
      incdirs = { "src", "$(YAJL_INCDIR)" },
      libdirs = { "$(YAJL_LIBDIR)" },
      libraries = { "yajl" },
    },
    ["msgraph.migration"] = "lua/msgraph/migration/init.lua",
    ["msgraph.migration.summary"] = "lua/msgraph/migration/summary.lua",
    ["msgraph.migration.client"] = "lua/msgraph/migration/client.lua",
    ["msgraph.migration.transport"] = "lua/msgraph/migration/transport.lua",
  },
  copy_directories = { "examples" },
}
