/*
** JSON input: YAJL callbacks fill records directly, with no intermediate
** Lua table.
**
** Each object that becomes a record is read in two steps. While YAJL walks
** it, its properties are collected in a scratch buffer: key, JSON kind and
** text (nested containers as compact JSON). When the object closes, its
** type is known (@odata.type may come last), so every property is checked
** against that type and the record is built in one allocation. A failure
** before that point leaves no object behind.
**
** YAJL 2.1 accepts overlong UTF-8 and encoded surrogates, and turns an
** unpaired surrogate escape into '?'. A scanner therefore runs over each
** chunk before YAJL parses it and rejects those with their byte position.
**
** Ownership: a parser lives in a userdata with __gc. YAJL's memory and the
** scratch buffers come from the parser's arena, so an error raised inside a
** callback (which unwinds through YAJL) leaks nothing. A parser that raised
** cannot be fed again.
*/

#include <string.h>

#include <yajl/yajl_parse.h>

#include "migration.h"

#define PARSER_TNAME "msgraph.migration.PageDecoder"

/* Maximum length in bytes of a value quoted in an error message. */
#define QUOTE_MAX 40

enum mode { MODE_PAGE, MODE_EVENT, MODE_OBJECT, MODE_LIST };
enum page_member { MEMBER_VALUE, MEMBER_NEXT_LINK, MEMBER_CONTEXT, MEMBER_OTHER };

typedef struct prop {
	uint32_t key_off, key_len;
	uint32_t val_off, val_len;
	int jtype;
} prop;

/* State of the UTF-8 and escape scanner between chunks. */
typedef struct scanner {
	int escape;          /* 0: none; 1: after a backslash; 2 to 5: reading \u hex digits */
	unsigned unit;       /* code unit of the \u escape being read */
	int high_pending;    /* a high surrogate escape waits for its low half */
	size_t high_start;   /* its position */
	size_t escape_start; /* position of the current backslash */
	int utf8_need;       /* continuation bytes still expected */
	unsigned char lo, hi;  /* allowed range of the next continuation byte */
	int bom;             /* bytes of a leading byte order mark skipped */
} scanner;

typedef struct parser {
	arena arena;
	lua_State *L;
	yajl_handle yajl;
	int mode;
	const type_desc *fixed_type;  /* MODE_OBJECT and MODE_LIST */
	const char *path;             /* prefix of error paths: "" or e.g. "value[2].error" */

	int depth;                    /* open containers */
	int record_depth;             /* depth at which records open */
	int in_record;
	uint8_t is_array[MAX_DEPTH + 1];
	uint8_t first[MAX_DEPTH + 1];

	bytes *capture;               /* set while a container value is written out as JSON */
	int capture_depth;
	size_t capture_start;

	/* Keys of the objects open inside a captured value, to reject duplicates. */
	struct { uint32_t off, len; } *keys;
	size_t nkeys, keys_cap;
	size_t key_base[MAX_DEPTH + 1];    /* first entry of keys for the object at each depth */
	uint8_t has_set[MAX_DEPTH + 1];    /* a Lua set of its keys exists (large objects) */
	int sets;                          /* stack index of the table of those sets while parsing */

	/* The record being read. */
	bytes scratch;
	prop *props;
	size_t nprops, props_cap;
	int type_prop;
	int unknown_set;              /* stack index of the set of unknown keys, once there are many */
	bytes unknown;
	uint8_t *order;
	size_t order_cap;
	const type_desc *last_type;   /* type of the previous record, tried first */
	uint8_t last_spelling;

	/* The page around the records. */
	int member;
	int value_seen, next_link_seen, context_seen;
	lua_Integer item;             /* index of the current item of value, from 0 */
	bytes next_link, context;
	int has_next_link, has_context;
	bytes extra;                  /* other members: (u32 length, key, u32 length, JSON)* */
	size_t extra_len_at;

	/* Finished records wait in the queue table (user value 1). */
	int queue;                    /* its stack index while parsing */
	lua_Integer head, tail;
	int delivered;

	size_t consumed;              /* bytes of earlier chunks */
	scanner scan;
	int busy;                     /* set while YAJL runs; still set after an error */
	int finished;
	int closed;                   /* __gc ran: the arena and YAJL are gone */
} parser;


/* {====================================================== */
/* Errors                                                  */
/* ======================================================= */

/* Pushes a short description of a JSON value for messages: 5, true, "text", object. */
static const char *push_description(lua_State *L, int jtype, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	luaL_Buffer b;
	size_t cut = len;

	switch (jtype) {
	case J_NULL: return lua_pushliteral(L, "null");
	case J_TRUE: return lua_pushliteral(L, "true");
	case J_FALSE: return lua_pushliteral(L, "false");
	case J_OBJECT: return lua_pushliteral(L, "object");
	case J_ARRAY: return lua_pushliteral(L, "array");
	case J_NUMBER:
		if (len <= QUOTE_MAX) return lua_pushlstring(L, text, len);
		lua_pushlstring(L, text, QUOTE_MAX);
		lua_pushliteral(L, "...");
		lua_concat(L, 2);
		return lua_tostring(L, -1);
	default: break;
	}

	/* A string: quoted and escaped as in JSON, cut at a character boundary. */
	if (cut > QUOTE_MAX) {
		cut = QUOTE_MAX;
		while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
	}
	luaL_buffinit(L, &b);
	luaL_addchar(&b, '"');
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '"' || c == '\\') {
			luaL_addchar(&b, '\\');
			luaL_addchar(&b, (char)c);
		}
		else if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			luaL_addlstring(&b, u, sizeof u);
		}
		else {
			luaL_addchar(&b, (char)c);
		}
	}
	if (cut < len) luaL_addstring(&b, "...");
	luaL_addchar(&b, '"');
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}


/* Pushes the JSON path of the current record: "value[3]", "error", or "". */
static const char *push_record_path(parser *p)
{
	lua_State *L = p->L;

	switch (p->mode) {
	case MODE_PAGE: return lua_pushfstring(L, "value[%I]", p->item);
	case MODE_LIST: return lua_pushfstring(L, "%s[%I]", p->path, p->item);
	default: return lua_pushstring(L, p->path);
	}
}


/* Pushes the path of a property of the current record. */
static const char *push_property_path(parser *p, const char *key, size_t klen)
{
	const char *record = push_record_path(p);

	if (*record) lua_pushliteral(p->L, ".");
	else lua_pushliteral(p->L, "");
	lua_pushlstring(p->L, key, klen);
	lua_concat(p->L, 3);
	return lua_tostring(p->L, -1);
}


static int fail_property(parser *p, const prop *pr, const char *expected, const char *reason)
{
	const char *scratch = p->scratch.data;
	const char *path = push_property_path(p, scratch + pr->key_off, pr->key_len);
	const char *got = push_description(p->L, pr->jtype, scratch + pr->val_off, pr->val_len);

	if (reason) return luaL_error(p->L, "%s: expected %s, got %s (%s)", path, expected, got, reason);
	return luaL_error(p->L, "%s: expected %s, got %s", path, expected, got);
}


/* Position of the byte YAJL is looking at, counted from 1. */
static size_t position(parser *p)
{
	return p->consumed + p->scan.bom + yajl_get_bytes_consumed(p->yajl);
}

/* }====================================================== */


/* {====================================================== */
/* Integers                                                */
/* ======================================================= */

int int_parse(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, limit;
	size_t i = 0;
	int negative = 0;

	if (len && s[0] == '-') {
		negative = 1;
		i = 1;
	}
	if (i == len || (s[i] == '0' && len - i > 1)) return 0;
	limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9) return 0;
		/* 18 digits cannot overflow; only longer numbers pay for the check. */
		if (i >= 18 && v > (limit - d) / 10) return 0;
		v = v * 10 + d;
	}
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Building records                                        */
/* ======================================================= */

static void parse_nested(lua_State *L, int mode, const type_desc *type, const char *path,
                         const char *json, size_t len);


static void convert_property(parser *p, builder *b, int field, const prop *pr)
{
	const field_desc *f = b->type->fields[field];
	field_value *v = &b->values[field];
	const char *text = p->scratch.data + pr->val_off;
	uint32_t bit = 1u << field;
	const char *reason;
	datetime dt;

	b->present |= bit;
	if (pr->jtype == J_NULL) {
		b->nulls |= bit;
		return;
	}

	v->text = text;
	v->len = pr->val_len;
	switch (f->kind) {
	case KIND_STRING:
		if (pr->jtype != J_STRING) fail_property(p, pr, "String", NULL);
		break;
	case KIND_ENUM:
		if (pr->jtype != J_STRING) fail_property(p, pr, f->enumeration->name, NULL);
		break;
	case KIND_DATETIME:
		if (pr->jtype != J_STRING) fail_property(p, pr, "DateTimeOffset", NULL);
		reason = datetime_parse(text, pr->val_len, &dt);
		if (reason) fail_property(p, pr, "DateTimeOffset", reason);
		break;
	case KIND_BOOLEAN:
		if (pr->jtype != J_TRUE && pr->jtype != J_FALSE) fail_property(p, pr, "Boolean", NULL);
		v->v.i = pr->jtype == J_TRUE;
		break;
	case KIND_INT32:
		if (pr->jtype != J_NUMBER || !int_parse(text, pr->val_len, &v->v.i)
		    || v->v.i < INT32_MIN || v->v.i > INT32_MAX)
			fail_property(p, pr, "Int32", NULL);
		break;
	case KIND_INT64:
		/* OData writes Int64 as a string when the client asks for IEEE754-compatible numbers. */
		if ((pr->jtype != J_NUMBER && pr->jtype != J_STRING) || !int_parse(text, pr->val_len, &v->v.i))
			fail_property(p, pr, "Int64", NULL);
		if (pr->jtype == J_STRING) b->quoted |= bit;
		break;
	case KIND_OBJECT:
	case KIND_OBJECT_LIST: {
		int list = f->kind == KIND_OBJECT_LIST;
		const char *path;

		if (pr->jtype != (list ? J_ARRAY : J_OBJECT))
			fail_property(p, pr, list ? "array" : "object", NULL);
		path = push_property_path(p, p->scratch.data + pr->key_off, pr->key_len);
		parse_nested(p->L, list ? MODE_LIST : MODE_OBJECT, f->object_type, path, text, pr->val_len);
		lua_remove(p->L, -2);
		v->stack_index = lua_gettop(p->L);
		break;
	}
	}
}


static int keys_equal(const parser *p, const prop *a, const prop *b)
{
	return a->key_len == b->key_len
	    && memcmp(p->scratch.data + a->key_off, p->scratch.data + b->key_off, a->key_len) == 0;
}


static int fail_duplicate(parser *p, const prop *pr)
{
	const char *path = push_property_path(p, p->scratch.data + pr->key_off, pr->key_len);
	return luaL_error(p->L, "%s: duplicate property", path);
}


/*
** Rejects a key that an earlier unknown property of this record already
** used. Duplicates are refused, not resolved, so that no reader can be
** shown a value another reader never saw.
*/
static void check_unknown_duplicate(parser *p, size_t i, const size_t *unknown, size_t nunknown)
{
	const prop *pr = &p->props[i];

	if (nunknown < 16) {
		for (size_t u = 0; u < nunknown; u++)
			if (keys_equal(p, &p->props[unknown[u]], pr)) fail_duplicate(p, pr);
		return;
	}

	/*
	 * Many unknown keys: a Lua table is the set. It stays on the stack until
	 * the record is built; nested values may be pushed above it meanwhile.
	 */
	if (p->unknown_set == 0) {
		lua_newtable(p->L);
		p->unknown_set = lua_gettop(p->L);
		for (size_t u = 0; u < nunknown; u++) {
			const prop *q = &p->props[unknown[u]];
			lua_pushlstring(p->L, p->scratch.data + q->key_off, q->key_len);
			lua_pushboolean(p->L, 1);
			lua_rawset(p->L, p->unknown_set);
		}
	}
	lua_pushlstring(p->L, p->scratch.data + pr->key_off, pr->key_len);
	if (lua_rawget(p->L, p->unknown_set) != LUA_TNIL) fail_duplicate(p, pr);
	lua_pop(p->L, 1);
	lua_pushlstring(p->L, p->scratch.data + pr->key_off, pr->key_len);
	lua_pushboolean(p->L, 1);
	lua_rawset(p->L, p->unknown_set);
}


static void append_unknown(parser *p, const prop *pr)
{
	arena *a = &p->arena;
	bytes *u = &p->unknown;
	const char *text = p->scratch.data + pr->val_off;
	size_t len_at;

	bytes_append_u32(a, u, pr->key_len);
	bytes_append(a, u, p->scratch.data + pr->key_off, pr->key_len);
	len_at = u->len;
	bytes_append_u32(a, u, 0);

	switch (pr->jtype) {
	case J_NULL: bytes_append(a, u, "null", 4); break;
	case J_TRUE: bytes_append(a, u, "true", 4); break;
	case J_FALSE: bytes_append(a, u, "false", 5); break;
	case J_STRING:
		bytes_put(a, u, '"');
		json_escape(a, u, text, pr->val_len);
		bytes_put(a, u, '"');
		break;
	default: bytes_append(a, u, text, pr->val_len);
	}

	{
		uint32_t n = (uint32_t)(u->len - len_at - 4);
		memcpy(u->data + len_at, &n, 4);
	}
}


/* Picks the type named by @odata.type: exact spelling, then without regard to case, else MigrationEvent. */
static void resolve_type(parser *p, builder *b)
{
	const prop *pr = &p->props[p->type_prop];
	const char *text = p->scratch.data + pr->val_off;
	size_t len = pr->val_len;

	if (pr->jtype == J_NULL) {
		b->spelling = SPELLING_NULL;
		return;
	}
	if (pr->jtype != J_STRING) fail_property(p, pr, "String", NULL);

	if (p->last_type) {
		const char *s = p->last_type->spellings[p->last_spelling];
		if (strlen(s) == len && memcmp(s, text, len) == 0) {
			b->type = p->last_type;
			b->spelling = p->last_spelling;
			return;
		}
	}

	for (int exact = 1; exact >= 0; exact--) {
		for (int t = 0; t < schema_ntypes; t++) {
			const type_desc *type = schema_types[t];
			for (int s = 0; s < 3 && type->spellings[s]; s++) {
				const char *name = type->spellings[s];
				int match = exact ? strlen(name) == len && memcmp(name, text, len) == 0
				                  : same_text_nocase(text, len, name, strlen(name));
				if (!match) continue;

				b->type = type;
				if (exact) {
					b->spelling = (uint8_t)s;
					p->last_type = type;
					p->last_spelling = (uint8_t)s;
				}
				else {
					b->spelling = SPELLING_OTHER;
					b->type_text = text;
					b->type_len = len;
				}
				return;
			}
		}
	}

	b->spelling = SPELLING_OTHER;
	b->type_text = text;
	b->type_len = len;
}


/*
** Returns the index of the named field, or -1. The search starts after the
** field found last, because properties usually come in schema order or in
** the same order as in the previous event.
*/
static int find_field(const type_desc *type, const char *name, size_t len, int *hint)
{
	for (int n = 0, i = *hint; n < type->nfields; n++, i = i + 1 == type->nfields ? 0 : i + 1) {
		const field_desc *f = type->fields[i];
		if (f->len == len && memcmp(f->name, name, len) == 0) {
			*hint = i + 1 == type->nfields ? 0 : i + 1;
			return i;
		}
	}
	return -1;
}


/* Checks the record just read against its type, builds it and appends it to the queue. */
static void finish_record(parser *p)
{
	lua_State *L = p->L;
	int top = lua_gettop(L);
	int entity = p->mode == MODE_PAGE || p->mode == MODE_EVENT;
	size_t *unknown, nunknown = 0;
	size_t nprops = 0;
	int hint = 0;
	builder b;

	p->unknown_set = 0;

	builder_init(&b, entity ? &type_migration_event : p->fixed_type);
	if (entity && p->type_prop >= 0) resolve_type(p, &b);

	luaL_checkstack(L, MAX_FIELDS + 8, "too many nested values");
	if (p->order == NULL || p->order_cap < p->nprops) {
		/* A multiple of 8 keeps the size_t array after the order bytes aligned. */
		p->order_cap = (p->nprops + 8) & ~(size_t)7;
		p->order = arena_realloc(&p->arena, p->order, p->order_cap * (1 + sizeof(size_t)));
	}
	unknown = (size_t *)(p->order + p->order_cap);
	p->unknown.len = 0;

	for (size_t i = 0; i < p->nprops; i++) {
		const prop *pr = &p->props[i];
		int field;

		if ((int)i == p->type_prop) continue;
		field = find_field(b.type, p->scratch.data + pr->key_off, pr->key_len, &hint);

		if (field < 0) {
			check_unknown_duplicate(p, i, unknown, nunknown);
			unknown[nunknown++] = i;
			append_unknown(p, pr);
			p->order[nprops++] = ORDER_UNKNOWN;
		}
		else {
			if (b.present >> field & 1) fail_duplicate(p, pr);
			convert_property(p, &b, field, pr);
			p->order[nprops++] = (uint8_t)field;
		}
	}

	b.order = p->order;
	b.nprops = nprops;
	b.unknown = p->unknown.data;
	b.unknown_len = p->unknown.len;
	record_build(L, &b);

	lua_rawseti(L, p->queue, ++p->tail);
	lua_settop(L, top);
	p->delivered = 1;
}

/* }====================================================== */


/* {====================================================== */
/* YAJL callbacks                                          */
/* ======================================================= */

static void capture_before_value(parser *p)
{
	if (p->is_array[p->depth]) {
		if (!p->first[p->depth]) bytes_put(&p->arena, p->capture, ',');
		p->first[p->depth] = 0;
	}
}


static void capture_scalar(parser *p, int jtype, const char *s, size_t len)
{
	arena *a = &p->arena;
	bytes *out = p->capture;

	switch (jtype) {
	case J_NULL: bytes_append(a, out, "null", 4); break;
	case J_TRUE: bytes_append(a, out, "true", 4); break;
	case J_FALSE: bytes_append(a, out, "false", 5); break;
	case J_NUMBER: bytes_append(a, out, s, len); break;
	default:
		bytes_put(a, out, '"');
		json_escape(a, out, s, len);
		bytes_put(a, out, '"');
	}
}


static void open_level(parser *p, int is_array)
{
	if (p->depth == MAX_DEPTH)
		luaL_error(p->L, "invalid JSON at byte %I: nesting deeper than %d levels",
		           (lua_Integer)position(p), MAX_DEPTH);
	p->depth++;
	p->is_array[p->depth] = (uint8_t)is_array;
	p->first[p->depth] = 1;
}


/* Starts the key list of an object opened inside a captured value. */
static void open_captured(parser *p, int is_array)
{
	open_level(p, is_array);
	p->key_base[p->depth] = p->nkeys;
	bytes_put(&p->arena, p->capture, is_array ? '[' : '{');
}


static void close_captured(parser *p)
{
	int d = p->depth;

	bytes_put(&p->arena, p->capture, p->is_array[d] ? ']' : '}');
	p->nkeys = p->key_base[d];
	if (p->has_set[d]) {
		lua_pushnil(p->L);
		lua_rawseti(p->L, p->sets, d);
		p->has_set[d] = 0;
	}
	p->depth--;
}


/*
** Rejects a key that the enclosing object inside a captured value already
** has. Keys are compared as written out, which is canonical. Past 32 keys
** a Lua table serves as the set, so a huge object stays linear.
*/
static void check_captured_key(parser *p, size_t off, size_t len)
{
	lua_State *L = p->L;
	int d = p->depth;
	const char *data = p->capture->data;
	int duplicate = 0;

	if (p->nkeys - p->key_base[d] < 32) {
		for (size_t k = p->key_base[d]; k < p->nkeys && !duplicate; k++)
			duplicate = p->keys[k].len == len && memcmp(data + p->keys[k].off, data + off, len) == 0;
	}
	else {
		if (!p->has_set[d]) {
			lua_newtable(L);
			for (size_t k = p->key_base[d]; k < p->nkeys; k++) {
				lua_pushlstring(L, data + p->keys[k].off, p->keys[k].len);
				lua_pushboolean(L, 1);
				lua_rawset(L, -3);
			}
			lua_rawseti(L, p->sets, d);
			p->has_set[d] = 1;
		}
		lua_rawgeti(L, p->sets, d);
		lua_pushlstring(L, data + off, len);
		lua_pushvalue(L, -1);
		duplicate = lua_rawget(L, -3) != LUA_TNIL;
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
		lua_rawset(L, -3);
		lua_pop(L, 1);
	}

	if (duplicate) {
		lua_pushlstring(L, data + off, len < QUOTE_MAX ? len : QUOTE_MAX);
		luaL_error(L, "invalid JSON at byte %I: duplicate key \"%s\" in a nested object",
		           (lua_Integer)position(p), lua_tostring(L, -1));
	}

	if (p->nkeys == p->keys_cap) {
		p->keys_cap = p->keys_cap ? p->keys_cap * 2 : 64;
		p->keys = arena_realloc(&p->arena, p->keys, p->keys_cap * sizeof *p->keys);
	}
	p->keys[p->nkeys].off = (uint32_t)off;
	p->keys[p->nkeys].len = (uint32_t)len;
	p->nkeys++;
}


static void start_capture(parser *p, bytes *into, int is_array)
{
	p->capture = into;
	p->capture_start = into->len;
	p->nkeys = 0;
	open_captured(p, is_array);
	p->capture_depth = p->depth;
}


static prop *current_prop(parser *p)
{
	return &p->props[p->nprops - 1];
}


static void begin_record(parser *p)
{
	open_level(p, 0);
	p->in_record = 1;
	p->scratch.len = 0;
	p->nprops = 0;
	p->type_prop = -1;
}


static int fail_structure(parser *p, const char *where, const char *expected, int jtype,
                          const char *text, size_t len)
{
	const char *got = push_description(p->L, jtype, text, len);

	if (*where) return luaL_error(p->L, "%s: expected %s, got %s", where, expected, got);
	return luaL_error(p->L, "expected %s at the top level, got %s", expected, got);
}


/* Writes the length of the page member just captured into its placeholder. */
static void patch_extra_length(parser *p)
{
	uint32_t n = (uint32_t)(p->extra.len - p->extra_len_at - 4);

	memcpy(p->extra.data + p->extra_len_at, &n, 4);
}


/* Checks a value outside any record against its position in the page or list. */
static void structural_value(parser *p, int jtype, const char *s, size_t len)
{
	lua_State *L = p->L;

	if (p->mode == MODE_PAGE && p->depth == 1) {
		bytes *text = NULL;
		int *seen = NULL;

		switch (p->member) {
		case MEMBER_VALUE:
			if (jtype != J_NULL) fail_structure(p, "value", "array", jtype, s, len);
			return;  /* null: no events */
		case MEMBER_NEXT_LINK:
			text = &p->next_link;
			seen = &p->has_next_link;
			break;
		case MEMBER_CONTEXT:
			text = &p->context;
			seen = &p->has_context;
			break;
		default:
			p->capture = &p->extra;
			capture_scalar(p, jtype, s, len);
			p->capture = NULL;
			patch_extra_length(p);
			return;
		}
		if (jtype == J_NULL) return;
		if (jtype != J_STRING)
			fail_structure(p, p->member == MEMBER_NEXT_LINK ? "@odata.nextLink" : "@odata.context",
			               "string", jtype, s, len);
		bytes_append(&p->arena, text, s, len);
		*seen = 1;
		return;
	}

	if (p->mode == MODE_PAGE && p->depth == 2) {
		if (jtype == J_NULL) {  /* a null item carries no event */
			p->item++;
			return;
		}
		lua_pushfstring(L, "value[%I]", p->item);
		fail_structure(p, lua_tostring(L, -1), "object", jtype, s, len);
	}

	if (p->mode == MODE_LIST && p->depth == 1) {
		lua_pushfstring(L, "%s[%I]", p->path, p->item);
		fail_structure(p, lua_tostring(L, -1), "object", jtype, s, len);
	}

	fail_structure(p, p->path, p->mode == MODE_PAGE ? "object (a progressEvents page)"
	                          : p->mode == MODE_LIST ? "array" : "object", jtype, s, len);
}


static int on_scalar(parser *p, int jtype, const char *s, size_t len)
{
	if (p->capture) {
		capture_before_value(p);
		capture_scalar(p, jtype, s, len);
	}
	else if (p->in_record && p->depth == p->record_depth) {
		prop *pr = current_prop(p);
		pr->jtype = jtype;
		pr->val_off = (uint32_t)p->scratch.len;
		pr->val_len = (uint32_t)len;
		bytes_append(&p->arena, &p->scratch, s, len);
	}
	else {
		structural_value(p, jtype, s, len);
	}
	return 1;
}


static int on_null(void *ctx)
{
	return on_scalar(ctx, J_NULL, NULL, 0);
}


static int on_boolean(void *ctx, int value)
{
	return on_scalar(ctx, value ? J_TRUE : J_FALSE, NULL, 0);
}


static int on_number(void *ctx, const char *s, size_t len)
{
	return on_scalar(ctx, J_NUMBER, s, len);
}


static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	return on_scalar(ctx, J_STRING, (const char *)s, len);
}


static int on_open(parser *p, int is_array)
{
	int jtype = is_array ? J_ARRAY : J_OBJECT;

	if (p->capture) {
		capture_before_value(p);
		open_captured(p, is_array);
		return 1;
	}

	if (p->in_record && p->depth == p->record_depth) {
		prop *pr = current_prop(p);
		pr->jtype = jtype;
		pr->val_off = (uint32_t)p->scratch.len;
		start_capture(p, &p->scratch, is_array);
		return 1;
	}

	switch (p->mode) {
	case MODE_PAGE:
		if (p->depth == 0 && !is_array) {
			open_level(p, 0);
			return 1;
		}
		if (p->depth == 1 && p->member == MEMBER_VALUE && is_array) {
			open_level(p, 1);
			return 1;
		}
		if (p->depth == 1 && p->member == MEMBER_OTHER) {
			start_capture(p, &p->extra, is_array);
			return 1;
		}
		if (p->depth == 2 && !is_array) {
			begin_record(p);
			return 1;
		}
		break;
	case MODE_EVENT:
	case MODE_OBJECT:
		if (p->depth == 0 && !is_array) {
			begin_record(p);
			return 1;
		}
		break;
	case MODE_LIST:
		if (p->depth == 0 && is_array) {
			open_level(p, 1);
			return 1;
		}
		if (p->depth == 1 && !is_array) {
			begin_record(p);
			return 1;
		}
		break;
	}

	structural_value(p, jtype, NULL, 0);
	return 0;
}


static int on_start_map(void *ctx)
{
	return on_open(ctx, 0);
}


static int on_start_array(void *ctx)
{
	return on_open(ctx, 1);
}


static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
	parser *p = ctx;
	arena *a = &p->arena;

	if (p->capture) {
		size_t off;

		if (!p->first[p->depth]) bytes_put(a, p->capture, ',');
		p->first[p->depth] = 0;
		bytes_put(a, p->capture, '"');
		off = p->capture->len;
		json_escape(a, p->capture, (const char *)key, len);
		check_captured_key(p, off, p->capture->len - off);
		bytes_append(a, p->capture, "\":", 2);
		return 1;
	}

	if (p->in_record) {
		prop *pr;

		if (p->nprops == MAX_PROPERTIES) {
			const char *path = push_record_path(p);
			luaL_error(p->L, "%s: more than %d properties", *path ? path : "object", MAX_PROPERTIES);
		}
		if (p->nprops == p->props_cap) {
			p->props_cap = p->props_cap ? p->props_cap * 2 : 32;
			p->props = arena_realloc(a, p->props, p->props_cap * sizeof *p->props);
		}
		pr = &p->props[p->nprops++];
		pr->key_off = (uint32_t)p->scratch.len;
		pr->key_len = (uint32_t)len;
		pr->jtype = J_NULL;
		pr->val_off = pr->val_len = 0;
		bytes_append(a, &p->scratch, key, len);

		if ((p->mode == MODE_PAGE || p->mode == MODE_EVENT)
		    && len == 11 && memcmp(key, "@odata.type", 11) == 0) {
			if (p->type_prop >= 0) fail_duplicate(p, pr);
			p->type_prop = (int)(p->nprops - 1);
		}
		return 1;
	}

	/* A member of the page object. */
	if (len == 5 && memcmp(key, "value", 5) == 0) {
		if (p->value_seen) luaL_error(p->L, "value: duplicate property");
		p->value_seen = 1;
		p->member = MEMBER_VALUE;
	}
	else if (len == 15 && memcmp(key, "@odata.nextLink", 15) == 0) {
		if (p->next_link_seen) luaL_error(p->L, "@odata.nextLink: duplicate property");
		p->next_link_seen = 1;
		p->member = MEMBER_NEXT_LINK;
	}
	else if (len == 14 && memcmp(key, "@odata.context", 14) == 0) {
		if (p->context_seen) luaL_error(p->L, "@odata.context: duplicate property");
		p->context_seen = 1;
		p->member = MEMBER_CONTEXT;
	}
	else {
		p->member = MEMBER_OTHER;
		bytes_append_u32(a, &p->extra, (uint32_t)len);
		bytes_append(a, &p->extra, key, len);
		p->extra_len_at = p->extra.len;
		bytes_append_u32(a, &p->extra, 0);
	}
	return 1;
}


static int on_close(void *ctx)
{
	parser *p = ctx;

	if (p->capture) {
		int closing = p->depth;

		close_captured(p);
		if (closing == p->capture_depth) {
			if (p->capture == &p->scratch) {
				prop *pr = current_prop(p);
				pr->val_len = (uint32_t)(p->scratch.len - pr->val_off);
			}
			else {
				patch_extra_length(p);
			}
			p->capture = NULL;
		}
		return 1;
	}

	if (p->in_record && p->depth == p->record_depth) {
		p->in_record = 0;
		p->depth--;
		finish_record(p);
		p->item++;
		return 1;
	}

	p->depth--;
	return 1;
}


static const yajl_callbacks callbacks = {
	on_null, on_boolean, NULL, NULL, on_number, on_string,
	on_start_map, on_map_key, on_close, on_start_array, on_close
};

/* }====================================================== */


/* {====================================================== */
/* Scanner: UTF-8 and surrogate escapes                    */
/* ======================================================= */

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}


static unsigned hex_value(unsigned char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}


/* Nonzero when some byte of w is zero (the classic bit trick, eight bytes at a time). */
#define HAS_ZERO_BYTE(w) (((w) - 0x0101010101010101u) & ~(w) & 0x8080808080808080u)


/* Returns the offset of the first backslash or non-ASCII byte at or after i, or len. */
static size_t skip_plain(const unsigned char *s, size_t i, size_t len)
{
	const uint64_t backslashes = 0x5C5C5C5C5C5C5C5Cu;

	while (len - i >= 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (HAS_ZERO_BYTE(w ^ backslashes) | (w & 0x8080808080808080u)) break;
		i += 8;
	}
	while (i < len && s[i] != '\\' && s[i] < 0x80) i++;
	return i;
}


static size_t unpaired_high(scanner *st, const char **reason_out, size_t *where, size_t i)
{
	*reason_out = "unpaired high surrogate escape";
	*where = st->high_start;
	return i;
}


/*
** Backslashes and bytes above 0x7F are valid JSON only inside strings, so
** the scanner need not track where strings begin and end: outside a string
** YAJL rejects them anyway.
**
** Scans s[0..len) and returns the offset of the first byte that breaks the
** rules, with *reason_out set, or len. Anything else wrong is left to YAJL.
*/
static size_t scan(parser *p, const unsigned char *s, size_t len, const char **reason_out, size_t *where)
{
	scanner *st = &p->scan;
	size_t base = p->consumed + st->bom;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		/* Fast path: plain ASCII without escapes needs no state. */
		if (!st->utf8_need && !st->escape && !st->high_pending) {
			i = skip_plain(s, i, len);
			if (i == len) return len;
			c = s[i];
		}

		if (st->utf8_need) {
			if (c < st->lo || c > st->hi) {
				*reason_out = "invalid UTF-8";
				*where = base + i;
				return i;
			}
			st->lo = 0x80;
			st->hi = 0xBF;
			st->utf8_need--;
			continue;
		}

		if (st->escape == 1) {
			if (c == 'u') {
				st->escape = 2;
				st->unit = 0;
				continue;
			}
			st->escape = 0;
			if (st->high_pending) return unpaired_high(st, reason_out, where, i);
			continue;
		}

		if (st->escape >= 2) {
			if (!is_hex(c)) {
				st->escape = 0;  /* YAJL reports the bad escape */
				continue;
			}
			st->unit = st->unit * 16 + hex_value(c);
			if (++st->escape < 6) continue;
			st->escape = 0;

			if (st->high_pending) {
				if (st->unit < 0xDC00 || st->unit > 0xDFFF) return unpaired_high(st, reason_out, where, i);
				st->high_pending = 0;
			}
			else if (st->unit >= 0xD800 && st->unit <= 0xDBFF) {
				st->high_pending = 1;
				st->high_start = st->escape_start;
			}
			else if (st->unit >= 0xDC00 && st->unit <= 0xDFFF) {
				*reason_out = "unpaired low surrogate escape";
				*where = st->escape_start;
				return i;
			}
			continue;
		}

		if (st->high_pending && c != '\\') return unpaired_high(st, reason_out, where, i);

		if (c == '\\') {
			st->escape = 1;
			st->escape_start = base + i;
		}
		else if (c >= 0x80) {
			st->utf8_need = 2;
			st->lo = 0x80;
			st->hi = 0xBF;
			if (c >= 0xC2 && c <= 0xDF) st->utf8_need = 1;
			else if (c == 0xE0) st->lo = 0xA0;
			else if (c == 0xED) st->hi = 0x9F;  /* no encoded surrogates */
			else if (c >= 0xE1 && c <= 0xEF) ;
			else if (c == 0xF0) { st->utf8_need = 3; st->lo = 0x90; }
			else if (c >= 0xF1 && c <= 0xF3) st->utf8_need = 3;
			else if (c == 0xF4) { st->utf8_need = 3; st->hi = 0x8F; }
			else {
				st->utf8_need = 0;
				*reason_out = "invalid UTF-8";
				*where = base + i;
				return i;
			}
		}
	}
	return len;
}

/* }====================================================== */


/* {====================================================== */
/* Feeding and finishing                                   */
/* ======================================================= */

static void *yajl_malloc_cb(void *ctx, size_t size)
{
	return arena_realloc(&((parser *)ctx)->arena, NULL, size);
}


static void *yajl_realloc_cb(void *ctx, void *ptr, size_t size)
{
	return arena_realloc(&((parser *)ctx)->arena, ptr, size);
}


static void yajl_free_cb(void *ctx, void *ptr)
{
	arena_free(&((parser *)ctx)->arena, ptr);
}


/*
** YAJL 2.1 reports where it stopped, which is at or just after the offending
** token. For some errors it first moves back by the token's length. When the
** token began in an earlier chunk, YAJL can only move back to the start of
** the current chunk, so the page decoder may name an earlier byte than
** decode_page does.
*/
static int raise_yajl_error(parser *p)
{
	unsigned char *text = yajl_get_error(p->yajl, 0, NULL, 0);
	const char *msg = (const char *)text;
	size_t len, at = position(p);

	if (strncmp(msg, "lexical error: ", 15) == 0) msg += 15;
	else if (strncmp(msg, "parse error: premature EOF", 26) == 0) msg = "unexpected end of input";
	else if (strncmp(msg, "parse error: ", 13) == 0) msg += 13;
	len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '.')) len--;

	lua_pushfstring(p->L, "invalid JSON at byte %I: ", (lua_Integer)at);
	lua_pushlstring(p->L, msg, len);
	yajl_free_error(p->yajl, text);
	lua_concat(p->L, 2);
	return lua_error(p->L);
}


static void parser_init(lua_State *L, parser *p, int mode, const type_desc *fixed, const char *path)
{
	memset(p, 0, sizeof *p);
	arena_init(&p->arena, L);
	p->L = L;
	p->mode = mode;
	p->fixed_type = fixed;
	p->path = path;
	/* Records open at depth 3 in a page (page, value, event), 2 in a list, 1 alone. */
	if (mode == MODE_PAGE) p->record_depth = 3;
	else if (mode == MODE_LIST) p->record_depth = 2;
	else p->record_depth = 1;
	p->type_prop = -1;
	p->busy = 1;  /* until YAJL exists */
	{
		yajl_alloc_funcs funcs = { yajl_malloc_cb, yajl_realloc_cb, yajl_free_cb, p };
		p->yajl = yajl_alloc(&callbacks, &funcs, p);
	}
	yajl_config(p->yajl, yajl_dont_validate_strings, 1);
	p->busy = 0;
}


static int parser_gc(lua_State *L)
{
	parser *p = luaL_checkudata(L, 1, PARSER_TNAME);

	arena_release(&p->arena);
	p->yajl = NULL;
	p->closed = 1;
	return 0;
}


static parser *check_usable(lua_State *L, int idx)
{
	parser *p = luaL_checkudata(L, idx, PARSER_TNAME);

	if (p->closed) luaL_error(L, "the page decoder is closed");
	if (p->busy) luaL_error(L, "the page decoder failed earlier and cannot continue");
	if (p->finished) luaL_error(L, "the page decoder is finished");
	return p;
}


/* Parses one chunk; parser at stack index idx, its queue table pushed by the caller. */
static void parser_feed(parser *p, const unsigned char *s, size_t len)
{
	static const unsigned char bom[] = { 0xEF, 0xBB, 0xBF };
	const char *reason_out = NULL;
	size_t where = 0, upto;

	p->L = p->arena.L;
	p->busy = 1;

	/* RFC 8259 lets a parser ignore a leading byte order mark; files saved on Windows have one. */
	while (p->consumed == 0 && p->scan.bom < 3 && len > 0 && s[0] == bom[p->scan.bom]) {
		p->scan.bom++;
		s++;
		len--;
	}
	if (p->consumed == 0 && p->scan.bom > 0 && p->scan.bom < 3 && len > 0)
		luaL_error(p->L, "invalid JSON at byte 1: incomplete byte order mark");

	upto = scan(p, s, len, &reason_out, &where);

	if (yajl_parse(p->yajl, s, upto) != yajl_status_ok) raise_yajl_error(p);
	if (reason_out) luaL_error(p->L, "invalid JSON at byte %I: %s", (lua_Integer)where + 1, reason_out);

	p->consumed += len;
	p->busy = 0;
}


static void parser_complete(parser *p)
{
	p->busy = 1;
	if (p->consumed == 0 && p->scan.bom == 0) luaL_error(p->L, "invalid JSON: empty input");
	if (p->scan.bom > 0 && p->scan.bom < 3) luaL_error(p->L, "invalid JSON at byte 1: incomplete byte order mark");
	if (yajl_complete_parse(p->yajl) != yajl_status_ok) raise_yajl_error(p);
	if (p->scan.high_pending) luaL_error(p->L, "invalid JSON at byte %I: unpaired high surrogate escape",
	                                     (lua_Integer)p->scan.high_start + 1);
	if (p->mode == MODE_PAGE && !p->value_seen)
		luaL_error(p->L, "value: missing (a progressEvents page has a \"value\" array; use decode for one event)");
	p->busy = 0;
	p->finished = 1;
}


/* Pushes the parser's queue and key-set tables (its user values) for a parse step. */
static void push_work_tables(lua_State *L, parser *p, int idx)
{
	lua_getiuservalue(L, idx, 1);
	p->queue = lua_gettop(L);
	lua_getiuservalue(L, idx, 2);
	p->sets = lua_gettop(L);
}


/* Pushes a new parser, then its queue and key-set tables. */
static parser *push_parser(lua_State *L, int mode, const type_desc *fixed, const char *path)
{
	parser *p = lua_newuserdatauv(L, sizeof *p, 2);
	int idx = lua_gettop(L);

	memset(p, 0, sizeof *p);
	p->busy = 1;
	luaL_setmetatable(L, PARSER_TNAME);  /* from here on, __gc frees the parser's memory */
	parser_init(L, p, mode, fixed, path);
	lua_newtable(L);
	lua_setiuservalue(L, idx, 1);
	lua_newtable(L);
	lua_setiuservalue(L, idx, 2);
	push_work_tables(L, p, idx);
	return p;
}


/* Parses text completely; leaves the parser and its queue on the stack. */
static parser *parse_all(lua_State *L, int mode, const type_desc *fixed, const char *path,
                         const char *text, size_t len)
{
	parser *p = push_parser(L, mode, fixed, path);

	parser_feed(p, (const unsigned char *)text, len);
	parser_complete(p);
	return p;
}


static void parse_nested(lua_State *L, int mode, const type_desc *type, const char *path,
                         const char *json, size_t len)
{
	parser *p = parse_all(L, mode, type, path, json, len);

	if (mode == MODE_OBJECT) lua_rawgeti(L, p->queue, 1);
	else lua_pushvalue(L, p->queue);
	arena_release(&p->arena);
	lua_replace(L, -4);  /* over the parser */
	lua_pop(L, 2);
}


static void push_page_info(lua_State *L, parser *p)
{
	if (p->has_next_link) lua_pushlstring(L, p->next_link.data, p->next_link.len);
	else lua_pushnil(L);
	if (p->has_context) lua_pushlstring(L, p->context.data, p->context.len);
	else lua_pushnil(L);

	if (p->extra.len == 0) {
		lua_pushnil(L);
		return;
	}
	lua_newtable(L);
	for (size_t off = 0; off < p->extra.len;) {
		uint32_t klen, jlen;

		memcpy(&klen, p->extra.data + off, 4);
		lua_pushlstring(L, p->extra.data + off + 4, klen);
		off += 4 + klen;
		memcpy(&jlen, p->extra.data + off, 4);
		json_push_value(L, p->extra.data + off + 4, jlen);
		off += 4 + jlen;
		lua_rawset(L, -3);
	}
}

/* }====================================================== */


/* {====================================================== */
/* Lua functions                                           */
/* ======================================================= */

/* decode(text): one event object. */
static int decode_event(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	parser *p;

	lua_settop(L, 1);
	p = parse_all(L, MODE_EVENT, NULL, "", text, len);
	if (!p->delivered) return luaL_error(L, "expected an object at the top level");
	lua_rawgeti(L, p->queue, 1);
	arena_release(&p->arena);
	return 1;
}


/* decode_page(text): events, next link, context and other page members. */
static int decode_page(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	parser *p;

	lua_settop(L, 1);
	p = parse_all(L, MODE_PAGE, NULL, "", text, len);
	lua_pushvalue(L, p->queue);
	push_page_info(L, p);
	arena_release(&p->arena);
	return 4;
}


/* page_decoder(): an incremental decoder for a page that arrives in chunks. */
static int decoder_new(lua_State *L)
{
	push_parser(L, MODE_PAGE, NULL, "");
	lua_pop(L, 2);
	return 1;
}


/* decoder:feed(chunk): parses the chunk; returns how many events are ready. */
static int decoder_feed(lua_State *L)
{
	parser *p = check_usable(L, 1);
	size_t len;
	const char *chunk = luaL_checklstring(L, 2, &len);

	lua_settop(L, 2);
	push_work_tables(L, p, 1);
	parser_feed(p, (const unsigned char *)chunk, len);
	lua_pushinteger(L, p->tail - p->head);
	return 1;
}


/* decoder:next_event(): the oldest event not yet taken, or nil. */
static int decoder_next_event(lua_State *L)
{
	parser *p = luaL_checkudata(L, 1, PARSER_TNAME);

	if (p->head == p->tail) {
		lua_pushnil(L);
		return 1;
	}
	lua_getiuservalue(L, 1, 1);
	lua_rawgeti(L, -1, ++p->head);
	lua_pushnil(L);
	lua_rawseti(L, -3, p->head);
	if (p->head == p->tail) p->head = p->tail = 0;  /* reuse the table's slots */
	return 1;
}


/* decoder:finish(): checks that the page is complete; returns next link, context and other members. */
static int decoder_finish(lua_State *L)
{
	parser *p = check_usable(L, 1);

	lua_settop(L, 1);
	push_work_tables(L, p, 1);
	parser_complete(p);
	push_page_info(L, p);
	return 3;
}

/* }====================================================== */


void decode_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "feed", decoder_feed },
		{ "next_event", decoder_next_event },
		{ "finish", decoder_finish },
		{ NULL, NULL }
	};

	if (luaL_newmetatable(L, PARSER_TNAME)) {
		lua_pushcfunction(L, parser_gc);
		lua_setfield(L, -2, "__gc");
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);

	lua_pushcfunction(L, decode_event);
	lua_setfield(L, -2, "decode");
	lua_pushcfunction(L, decode_page);
	lua_setfield(L, -2, "decode_page");
	lua_pushcfunction(L, decoder_new);
	lua_setfield(L, -2, "page_decoder");
}
