/*
** JSON output: records to compact JSON, and canonical JSON text (the
** stored form of unknown properties) back to Lua values.
**
** Output: @odata.type first, then the properties in the order they came in
** (schema order for records built with new), UTF-8 as is, the characters
** JSON requires escaped, Int64 values quoted when they came quoted.
*/

#include <stdlib.h>
#include <string.h>

#include "migration.h"

#define ARENA_TNAME "msgraph.migration.Arena"


/* {====================================================== */
/* Arena boxes                                             */
/* ======================================================= */

static int arena_gc(lua_State *L)
{
	arena_release(luaL_checkudata(L, 1, ARENA_TNAME));
	return 0;
}


/* Pushes a userdata that owns a fresh arena, so memory left by a later error is freed when Lua collects it. */
static arena *push_arena(lua_State *L)
{
	arena *a = lua_newuserdatauv(L, sizeof *a, 0);

	arena_init(a, L);
	if (luaL_newmetatable(L, ARENA_TNAME)) {
		lua_pushcfunction(L, arena_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return a;
}

/* }====================================================== */


/* {====================================================== */
/* Writing JSON                                            */
/* ======================================================= */

void json_escape(arena *a, bytes *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	bytes_reserve(a, out, len + 2);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc;

		if (c >= 0x20 && c != '"' && c != '\\') continue;

		bytes_append(a, out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\b': esc = 'b'; break;
		case '\f': esc = 'f'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			bytes_append(a, out, u, sizeof u);
			continue;
		}
		}
		bytes_put(a, out, '\\');
		bytes_put(a, out, esc);
	}
	bytes_append(a, out, s + run, len - run);
}


static void write_string(arena *a, bytes *out, const char *s, size_t len)
{
	bytes_put(a, out, '"');
	json_escape(a, out, s, len);
	bytes_put(a, out, '"');
}


static void write_integer(arena *a, bytes *out, int64_t v)
{
	char digits[24], *p = digits + sizeof digits;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0) *--p = '-';
	bytes_append(a, out, p, (size_t)(digits + sizeof digits - p));
}


static void write_key(arena *a, bytes *out, const char *key, size_t len, int *first)
{
	if (!*first) bytes_put(a, out, ',');
	*first = 0;
	write_string(a, out, key, len);
	bytes_put(a, out, ':');
}


static void encode_record(lua_State *L, arena *a, bytes *out, int idx);


static void write_field(lua_State *L, arena *a, bytes *out, const record *r, int idx, int field)
{
	const field_desc *f = r->type->fields[field];
	const slot *s;

	if (r->nulls >> field & 1) {
		bytes_append(a, out, "null", 4);
		return;
	}

	s = &record_slots(r)[record_slot_index(r, field)];
	switch (f->kind) {
	case KIND_STRING: {
		char buf[GUID_TEXT_LEN];
		size_t len;
		const char *text = record_text(r, field, buf, &len);

		write_string(a, out, text, len);
		break;
	}
	case KIND_DATETIME:
	case KIND_ENUM:
		write_string(a, out, record_tail(r) + s->s.off, s->s.len);
		break;
	case KIND_BOOLEAN:
		if (s->i) bytes_append(a, out, "true", 4);
		else bytes_append(a, out, "false", 5);
		break;
	case KIND_INT32:
		write_integer(a, out, s->i);
		break;
	case KIND_INT64:
		if (r->variant >> field & 1) bytes_put(a, out, '"');
		write_integer(a, out, s->i);
		if (r->variant >> field & 1) bytes_put(a, out, '"');
		break;
	case KIND_OBJECT:
		lua_getiuservalue(L, idx, (int)s->i);
		encode_record(L, a, out, lua_gettop(L));
		lua_pop(L, 1);
		break;
	case KIND_OBJECT_LIST: {
		lua_Integer n;

		lua_getiuservalue(L, idx, (int)s->i);
		n = luaL_len(L, -1);
		bytes_put(a, out, '[');
		for (lua_Integer i = 1; i <= n; i++) {
			if (i > 1) bytes_put(a, out, ',');
			lua_rawgeti(L, -1, i);
			encode_record(L, a, out, lua_gettop(L));
			lua_pop(L, 1);
		}
		bytes_put(a, out, ']');
		lua_pop(L, 1);
		break;
	}
	}
}


static void encode_record(lua_State *L, arena *a, bytes *out, int idx)
{
	const record *r = record_test(L, idx, NULL);
	const uint8_t *order = record_order(r);
	unknown_iter unknowns;
	int first = 1;

	luaL_checkstack(L, 4, "nesting too deep");
	bytes_put(a, out, '{');

	if (r->type->is_entity && r->spelling != SPELLING_NONE) {
		write_key(a, out, "@odata.type", 11, &first);
		if (r->spelling == SPELLING_NULL) {
			bytes_append(a, out, "null", 4);
		}
		else if (r->spelling == SPELLING_OTHER) {
			uint32_t len;
			memcpy(&len, record_tail(r), 4);
			write_string(a, out, record_tail(r) + 4, len);
		}
		else {
			const char *name = r->type->spellings[r->spelling];
			write_string(a, out, name, strlen(name));
		}
	}

	unknown_iter_init(&unknowns, r);
	for (size_t p = 0; p < r->nprops; p++) {
		if (order[p] == ORDER_UNKNOWN) {
			const char *key, *json;
			size_t klen, jlen;

			unknown_iter_next(&unknowns, &key, &klen, &json, &jlen);
			write_key(a, out, key, klen, &first);
			bytes_append(a, out, json, jlen);
		}
		else {
			/* Graph property names are plain ASCII: no escaping needed. */
			const field_desc *f = r->type->fields[order[p]];

			bytes_reserve(a, out, f->len + 4);
			if (!first) out->data[out->len++] = ',';
			first = 0;
			out->data[out->len++] = '"';
			memcpy(out->data + out->len, f->name, f->len);
			out->len += f->len;
			out->data[out->len++] = '"';
			out->data[out->len++] = ':';
			write_field(L, a, out, r, idx, order[p]);
		}
	}

	bytes_put(a, out, '}');
}


/* encode(obj) and obj:to_json(): compact JSON text of a record. */
int encode_method(lua_State *L)
{
	bytes out = { NULL, 0, 0 };
	arena *a;

	record_check(L, 1, NULL);
	lua_settop(L, 1);
	a = push_arena(L);
	bytes_reserve(a, &out, 2 * lua_rawlen(L, 1));  /* usually enough: one allocation */
	encode_record(L, a, &out, 1);
	lua_pushlstring(L, out.data, out.len);
	arena_release(a);
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Reading canonical JSON into Lua values                  */
/* ======================================================= */

/*
** The unknown-property area contains JSON that this module wrote itself, so
** it is valid and compact; this reader does not repeat the decoder's checks.
*/

typedef struct reader {
	lua_State *L;
	const char *p, *end;
} reader;

static void read_value(reader *rd);


static unsigned hex4(const char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}


static void add_utf8(luaL_Buffer *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) { u[0] = (char)cp; n = 1; }
	else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
	else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
	}
	else {
		u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
	}
	luaL_addlstring(b, u, n);
}


static void read_string(reader *rd)
{
	luaL_Buffer b;
	const char *run;

	rd->p++;  /* opening quote */
	luaL_buffinit(rd->L, &b);
	run = rd->p;
	while (*rd->p != '"') {
		if (*rd->p != '\\') {
			rd->p++;
			continue;
		}
		luaL_addlstring(&b, run, (size_t)(rd->p - run));
		rd->p++;
		switch (*rd->p) {
		case 'b': luaL_addchar(&b, '\b'); break;
		case 'f': luaL_addchar(&b, '\f'); break;
		case 'n': luaL_addchar(&b, '\n'); break;
		case 'r': luaL_addchar(&b, '\r'); break;
		case 't': luaL_addchar(&b, '\t'); break;
		case 'u': {
			unsigned cp = hex4(rd->p + 1);
			rd->p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(rd->p + 3) - 0xDC00);
				rd->p += 6;
			}
			add_utf8(&b, cp);
			break;
		}
		default: luaL_addchar(&b, *rd->p);
		}
		run = ++rd->p;
	}
	luaL_addlstring(&b, run, (size_t)(rd->p - run));
	rd->p++;  /* closing quote */
	luaL_pushresult(&b);
}


static void read_number(reader *rd)
{
	const char *start = rd->p;

	while (rd->p < rd->end && strchr("+-0123456789.eE", *rd->p)) rd->p++;

	/* The pushed copy is NUL-terminated, as lua_stringtonumber needs. */
	lua_pushlstring(rd->L, start, (size_t)(rd->p - start));
	if (lua_stringtonumber(rd->L, lua_tostring(rd->L, -1))) lua_remove(rd->L, -2);
}


static void read_container(reader *rd, char close)
{
	lua_State *L = rd->L;
	lua_Integer n = 0;

	luaL_checkstack(L, 4, "nesting too deep");
	rd->p++;
	lua_newtable(L);
	while (*rd->p != close) {
		if (*rd->p == ',') rd->p++;
		if (close == '}') {
			read_string(rd);
			rd->p++;  /* colon */
			read_value(rd);
			lua_rawset(L, -3);
		}
		else {
			read_value(rd);
			lua_rawseti(L, -2, ++n);
		}
	}
	rd->p++;
}


static void read_value(reader *rd)
{
	switch (*rd->p) {
	case '{': read_container(rd, '}'); break;
	case '[': read_container(rd, ']'); break;
	case '"': read_string(rd); break;
	case 't': lua_pushboolean(rd->L, 1); rd->p += 4; break;
	case 'f': lua_pushboolean(rd->L, 0); rd->p += 5; break;
	case 'n': lua_pushlightuserdata(rd->L, NULL); rd->p += 4; break;
	default: read_number(rd);
	}
}


void json_push_value(lua_State *L, const char *json, size_t len)
{
	reader rd = { L, json, json + len };

	read_value(&rd);
}

/* }====================================================== */


void encode_open(lua_State *L)
{
	lua_pushcfunction(L, encode_method);
	lua_setfield(L, -2, "encode");
}
