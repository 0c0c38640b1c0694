-- luacheck configuration: `make lint` runs `luacheck .` from the repository root.
std = "lua54"

include_files = {
  "lua/**/*.lua",
  "spec/**/*.lua",
  "examples/**/*.lua",
  "bench/**/*.lua",
  "fuzz/**/*.lua",
  ".luacheckrc",
}

exclude_files = {
  "build/**",
  "bench/node/**",
}

files["spec/**/*.lua"] = { std = "+busted" }
files[".luacheckrc"] = { globals = { "std", "include_files", "exclude_files", "files" } }
