/*
 * yajl_floor: the cost of letting YAJL scan a JSON text and do nothing else.
 *
 * scan(text) runs yajl_parse and yajl_complete_parse over text with callbacks
 * that only return 1, and returns the number of map keys YAJL reported (a
 * cheap count that shows the whole text was walked). It raises on invalid JSON.
 * The parser uses YAJL's defaults, so it checks UTF-8 in strings as a
 * validating decoder must. A decoder that runs YAJL with the same options
 * does at least this much work, so this time is its floor.
 */
#include <lauxlib.h>
#include <lua.h>
#include <yajl/yajl_parse.h>

/* The Makefile builds with -fvisibility=hidden, so the entry point opts out. */
#if defined(__GNUC__)
#define MODULE_EXPORT __attribute__((visibility("default")))
#else
#define MODULE_EXPORT
#endif

MODULE_EXPORT int luaopen_yajl_floor(lua_State *L);

static int on_null(void *context)
{
	(void)context;
	return 1;
}

static int on_boolean(void *context, int value)
{
	(void)context;
	(void)value;
	return 1;
}

static int on_number(void *context, const char *text, size_t length)
{
	(void)context;
	(void)text;
	(void)length;
	return 1;
}

static int on_string(void *context, const unsigned char *text, size_t length)
{
	(void)context;
	(void)text;
	(void)length;
	return 1;
}

static int on_map_key(void *context, const unsigned char *key, size_t length)
{
	(void)key;
	(void)length;
	++*(lua_Integer *)context;
	return 1;
}

static int on_bracket(void *context)
{
	(void)context;
	return 1;
}

/* on_number takes numbers as text, so YAJL never converts them itself. */
static const yajl_callbacks empty_callbacks = {
	on_null, on_boolean, NULL, NULL, on_number, on_string,
	on_bracket, on_map_key, on_bracket, on_bracket, on_bracket,
};

static int floor_scan(lua_State *L)
{
	size_t length;
	const char *text = luaL_checklstring(L, 1, &length);
	lua_Integer keys = 0;
	yajl_handle handle = yajl_alloc(&empty_callbacks, NULL, &keys);
	if (handle == NULL)
		return luaL_error(L, "yajl_alloc failed: out of memory");

	yajl_status status = yajl_parse(handle, (const unsigned char *)text, length);
	if (status == yajl_status_ok)
		status = yajl_complete_parse(handle);
	if (status != yajl_status_ok) {
		unsigned char *message = yajl_get_error(handle, 0, (const unsigned char *)text, length);
		lua_pushstring(L, (const char *)message);
		yajl_free_error(handle, message);
		yajl_free(handle);
		return lua_error(L);
	}
	yajl_free(handle);
	lua_pushinteger(L, keys);
	return 1;
}

int luaopen_yajl_floor(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "scan", floor_scan },
		{ NULL, NULL },
	};
	luaL_newlib(L, functions);
	return 1;
}
