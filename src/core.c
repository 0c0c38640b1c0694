/*
** msgraph.migration.core: typed Microsoft Graph migration events for Lua 5.4.
**
** The module table contains one type table per event type (with .new), the
** JSON functions and the helpers is_a, type, by_time and null. The Lua
** layer (msgraph.migration) builds on it.
*/

#include "migration.h"

#define MODULE_VERSION "0.1.0"

#if defined(__GNUC__)
#define MODULE_EXPORT __attribute__((visibility("default")))
#else
#define MODULE_EXPORT
#endif

MODULE_EXPORT int luaopen_msgraph_migration_core(lua_State *L);


int luaopen_msgraph_migration_core(lua_State *L)
{
	luaL_checkversion(L);
	lua_newtable(L);

	record_open(L);
	encode_open(L);
	decode_open(L);

	lua_pushliteral(L, MODULE_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
