/*
 * libFuzzer harness for msgraph.migration.
 *
 * One source builds every target: FUZZ_TARGET names the entry of fuzz/checks.lua
 * that each input goes through ("decode", "decode_page" or "page_decoder"). The
 * harness embeds Lua 5.4, links the C core from src/ directly, and loads the Lua
 * layer from the source tree, so a run exercises the public API as scripts see it.
 *
 * A check returns nil when the input behaved, or a message naming the violated
 * property. On a violation the harness aborts, so libFuzzer saves the input as a
 * crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET as the name of a check in fuzz/checks.lua"
#endif

/* The source tree root. MSGRAPH_SOURCE_ROOT in the environment overrides it. */
#ifndef FUZZ_SOURCE_ROOT
#define FUZZ_SOURCE_ROOT "."
#endif

int luaopen_msgraph_migration_core(lua_State *L);
/* libFuzzer fixes these two signatures. */
int LLVMFuzzerInitialize(int *argc, char ***argv); /* NOLINT(readability-non-const-parameter) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *lua;
static int check_ref = LUA_NOREF;

static void fail(const char *failure, const char *detail)
{
	fprintf(stderr, "fuzz target %s: %s: %s\n", FUZZ_TARGET, failure,
	        detail != NULL ? detail : "(no message)");
	abort();
}

/* Message handler for lua_pcall: converts the error to a string and appends a traceback. */
static int add_traceback(lua_State *L)
{
	const char *message = lua_tostring(L, 1);
	if (message == NULL)
		message = luaL_tolstring(L, 1, NULL);
	luaL_traceback(L, L, message, 1);
	return 1;
}

static const char *source_root(void)
{
	const char *root = getenv("MSGRAPH_SOURCE_ROOT");
	return root != NULL && root[0] != '\0' ? root : FUZZ_SOURCE_ROOT;
}

/*
 * Loads fuzz/checks.lua with msgraph.migration.core preloaded from the linked
 * objects and the Lua layer found under <root>/lua, and keeps a reference to the
 * check named FUZZ_TARGET.
 */
static int load_check(lua_State *L)
{
	const char *root = source_root();

	luaL_openlibs(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_msgraph_migration_core);
	lua_setfield(L, -2, "msgraph.migration.core");
	lua_pop(L, 1);

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/fuzz/?.lua", root, root, root);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);

	lua_getglobal(L, "require");
	lua_pushliteral(L, "checks");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, FUZZ_TARGET);
	if (lua_type(L, -1) != LUA_TFUNCTION)
		return luaL_error(L, "fuzz/checks.lua has no check named '%s'", FUZZ_TARGET);
	check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) /* NOLINT(readability-non-const-parameter) */
{
	(void)argc;
	(void)argv;
	lua = luaL_newstate();
	if (lua == NULL)
		fail("setup failed", "luaL_newstate returned NULL");
	lua_pushcfunction(lua, add_traceback);
	lua_pushcfunction(lua, load_check);
	if (lua_pcall(lua, 0, 0, 1) != LUA_OK)
		fail("setup failed", lua_tostring(lua, -1));
	lua_settop(lua, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_pushcfunction(lua, add_traceback);
	lua_rawgeti(lua, LUA_REGISTRYINDEX, check_ref);
	lua_pushlstring(lua, (const char *)data, size);
	if (lua_pcall(lua, 1, 1, 1) != LUA_OK)
		fail("check raised an error", lua_tostring(lua, -1));
	if (!lua_isnil(lua, -1))
		fail("property violated", lua_tostring(lua, -1));
	lua_settop(lua, 0);

	/* A full collection per input keeps the heap small and runs every __gc now,
	 * so a finalizer that crashes is blamed on the input that made the object. */
	lua_gc(lua, LUA_GCCOLLECT);
	return 0;
}
