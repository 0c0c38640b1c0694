/*
** Records: the typed, immutable userdata behind every event and nested
** object, their metatables, accessors and constructors.
**
** Memory layout of one record (a single userdata block):
**
**   record header | slot[popcount(present & ~nulls)] | order[nprops] | tail
**
** Slots hold the values of present, non-null fields in schema order. The
** order array lists the properties as they appeared: a field index, or
** ORDER_UNKNOWN for the next entry of the unknown area. The tail contains the
** @odata.type text when it is not a known spelling, the text of string-like
** fields, then the unknown area: (u32 key length, key, u32 JSON length,
** compact JSON) for each unknown property. Nested records and lists are the
** record's user values, numbered in schema order of the fields holding them.
**
** A String value that is a GUID in canonical form (lowercase hex, hyphens at
** 8-4-4-4-12) is stored as its 16 bytes, not its 36 characters: ids fill most
** of an event's text. record_text turns it back into the same characters.
**
** Each type has its own metatable, named by its dotted type name, holding
** the type descriptor under a private key. Method tables chain to the base
** type's method table through __index.
*/

#include <string.h>

#include "migration.h"

const char record_desc_key = 0;


/* {====================================================== */
/* Layout                                                  */
/* ======================================================= */

/* Counts set bits without a loop or a library call (the usual SWAR sum). */
static int popcount32(uint32_t v)
{
	v = v - ((v >> 1) & 0x55555555u);
	v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
	v = (v + (v >> 4)) & 0x0F0F0F0Fu;
	return (int)((v * 0x01010101u) >> 24);
}


int record_slot_index(const record *r, int field)
{
	return popcount32(r->present & ~r->nulls & ((1u << field) - 1));
}


uint8_t *record_order(const record *r)
{
	return (uint8_t *)(record_slots(r) + popcount32(r->present & ~r->nulls));
}


const char *record_tail(const record *r)
{
	return (const char *)record_order(r) + r->nprops;
}


static uint32_t read_u32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return v;
}


void unknown_iter_init(unknown_iter *it, const record *r)
{
	const char *tail = record_tail(r);

	it->p = tail + r->unknown_off;
	it->end = tail + r->tail_len;
}


int unknown_iter_next(unknown_iter *it, const char **key, size_t *klen,
                      const char **json, size_t *jlen)
{
	if (it->p >= it->end) return 0;

	*klen = read_u32(it->p);
	*key = it->p + 4;
	it->p += 4 + *klen;
	*jlen = read_u32(it->p);
	*json = it->p + 4;
	it->p += 4 + *jlen;
	return 1;
}


static int count_nested(const type_desc *type)
{
	int n = 0;

	for (int i = 0; i < type->nfields; i++) {
		field_kind k = type->fields[i]->kind;
		n += k == KIND_OBJECT || k == KIND_OBJECT_LIST;
	}
	return n;
}


static int is_text_kind(field_kind k)
{
	return k == KIND_STRING || k == KIND_DATETIME || k == KIND_ENUM;
}


/* Value plus one of each lowercase hex digit; 0 for every other byte. */
static const unsigned char hex_value[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16
};


/* Packs a canonical GUID into 16 bytes; returns 0, packing nothing, for any other text. */
static int guid_pack(const char *text, size_t len, unsigned char out[16])
{
	static const unsigned char starts[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };
	const unsigned char *t = (const unsigned char *)text;

	if (len != GUID_TEXT_LEN || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') return 0;
	for (int i = 0; i < 16; i++) {
		unsigned high = hex_value[t[starts[i]]], low = hex_value[t[starts[i] + 1]];

		if (high == 0 || low == 0) return 0;
		out[i] = (unsigned char)((high - 1) << 4 | (low - 1));
	}
	return 1;
}


static void guid_unpack(const unsigned char in[16], char out[GUID_TEXT_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
		*p++ = hex[in[i] >> 4];
		*p++ = hex[in[i] & 15];
	}
}


/* Returns the text of a string-like field that has a value, unpacking a GUID into buf. */
const char *record_text(const record *r, int field, char buf[GUID_TEXT_LEN], size_t *len)
{
	const slot *s = &record_slots(r)[record_slot_index(r, field)];
	const char *stored = record_tail(r) + s->s.off;

	if (r->variant >> field & 1 && r->type->fields[field]->kind == KIND_STRING) {
		guid_unpack((const unsigned char *)stored, buf);
		*len = GUID_TEXT_LEN;
		return buf;
	}
	*len = s->s.len;
	return stored;
}


void builder_init(builder *b, const type_desc *type)
{
	memset(b, 0, sizeof *b);
	b->type = type;
	b->spelling = SPELLING_NONE;
}


void record_build(lua_State *L, const builder *b)
{
	const type_desc *type = b->type;
	uint32_t filled = b->present & ~b->nulls;
	uint32_t packed = 0;
	size_t nslots = (size_t)popcount32(filled);
	size_t text_len = b->spelling == SPELLING_OTHER ? 4 + b->type_len : 0;
	size_t tail_len, pos, size;
	unsigned char guids[MAX_FIELDS][16];
	record *r;
	slot *slots;
	char *tail;
	int uv = 0;

	for (int i = 0; i < type->nfields; i++) {
		field_kind kind = type->fields[i]->kind;

		if (!(filled >> i & 1) || !is_text_kind(kind)) continue;
		if (kind == KIND_STRING && guid_pack(b->values[i].text, b->values[i].len, guids[i])) {
			packed |= 1u << i;
			text_len += 16;
		}
		else {
			text_len += b->values[i].len;
		}
	}

	tail_len = text_len + b->unknown_len;
	if (tail_len > UINT32_MAX) luaL_error(L, "%s is larger than 4 GiB", type->name);
	size = sizeof(record) + nslots * sizeof(slot) + b->nprops + tail_len;

	r = lua_newuserdatauv(L, size, count_nested(type));
	r->type = type;
	r->present = b->present;
	r->nulls = b->nulls;
	r->variant = b->quoted | packed;
	r->nprops = (uint16_t)b->nprops;
	r->spelling = b->spelling;
	r->unused = 0;
	r->tail_len = (uint32_t)tail_len;

	slots = record_slots(r);
	if (b->nprops) memcpy(record_order(r), b->order, b->nprops);
	tail = (char *)record_tail(r);
	pos = 0;

	if (b->spelling == SPELLING_OTHER) {
		uint32_t n = (uint32_t)b->type_len;
		memcpy(tail, &n, 4);
		memcpy(tail + 4, b->type_text, b->type_len);
		pos = 4 + b->type_len;
	}

	for (int i = 0; i < type->nfields; i++) {
		field_kind kind = type->fields[i]->kind;
		int nested = kind == KIND_OBJECT || kind == KIND_OBJECT_LIST;
		const field_value *v = &b->values[i];

		uv += nested;
		if (!(filled >> i & 1)) continue;

		if (packed >> i & 1) {
			slots->s.off = (uint32_t)pos;
			slots->s.len = 16;
			memcpy(tail + pos, guids[i], 16);
			pos += 16;
		}
		else if (is_text_kind(kind)) {
			slots->s.off = (uint32_t)pos;
			slots->s.len = (uint32_t)v->len;
			if (v->len) memcpy(tail + pos, v->text, v->len);
			pos += v->len;
		}
		else if (nested) {
			slots->i = uv;
			lua_pushvalue(L, v->stack_index);
			lua_setiuservalue(L, -2, uv);
		}
		else {
			slots->i = v->v.i;
		}
		slots++;
	}

	r->unknown_off = (uint32_t)pos;
	if (b->unknown_len) memcpy(tail + pos, b->unknown, b->unknown_len);

	lua_rawgetp(L, LUA_REGISTRYINDEX, type);
	lua_setmetatable(L, -2);
}

/* }====================================================== */


/* {====================================================== */
/* Types                                                   */
/* ======================================================= */

int type_is_a(const type_desc *type, const type_desc *want)
{
	for (; type; type = type->base)
		if (type == want) return 1;
	return 0;
}


const type_desc *type_find(const char *name, size_t len)
{
	for (int i = 0; i < schema_ntypes; i++) {
		const type_desc *t = schema_types[i];
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0) return t;
	}
	return NULL;
}


int field_index(const type_desc *type, const char *name, size_t len)
{
	for (int i = 0; i < type->nfields; i++) {
		const field_desc *f = type->fields[i];
		if (f->len == len && memcmp(f->name, name, len) == 0) return i;
	}
	return -1;
}


/* Compares two texts with ASCII letters folded to lower case. */
int same_text_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen) return 0;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
		if (x != y) return 0;
	}
	return 1;
}


/* Returns the declared member matching text without regard to case, else unknownFutureValue. */
int enum_match(const enum_desc *e, const char *text, size_t len)
{
	for (int m = 0; m < e->nmembers; m++)
		if (same_text_nocase(text, len, e->members[m], strlen(e->members[m]))) return m;
	return e->unknown_member;
}


/* Returns the record at idx when it is one of ours and, if want is set, of that type or a subtype. */
record *record_test(lua_State *L, int idx, const type_desc *want)
{
	record *r = lua_touserdata(L, idx);
	const void *desc;

	if (r == NULL || !lua_getmetatable(L, idx)) return NULL;
	lua_rawgetp(L, -1, &record_desc_key);
	desc = lua_touserdata(L, -1);
	lua_pop(L, 2);

	if (desc == NULL || desc != r->type) return NULL;
	if (want && !type_is_a(r->type, want)) return NULL;
	return r;
}


record *record_check(lua_State *L, int idx, const type_desc *want)
{
	record *r = record_test(L, idx, want);

	if (r == NULL) luaL_typeerror(L, idx, want ? want->tname : "msgraph.migration object");
	return r;
}

/* }====================================================== */


/* {====================================================== */
/* Reading fields                                          */
/* ======================================================= */

static void push_list_copy(lua_State *L, int list)
{
	lua_Integer n = luaL_len(L, list);

	lua_createtable(L, (int)n, 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, list, i);
		lua_rawseti(L, -2, i);
	}
}


void record_push_field(lua_State *L, const record *r, int idx, int field)
{
	const field_desc *f = r->type->fields[field];
	uint32_t bit = 1u << field;
	const slot *s;

	if (!(r->present & bit) || (r->nulls & bit)) {
		lua_pushnil(L);
		return;
	}

	s = &record_slots(r)[record_slot_index(r, field)];
	switch (f->kind) {
	case KIND_STRING: {
		char buf[GUID_TEXT_LEN];
		size_t len;
		const char *text = record_text(r, field, buf, &len);

		lua_pushlstring(L, text, len);
		break;
	}
	case KIND_DATETIME:
		lua_pushlstring(L, record_tail(r) + s->s.off, s->s.len);
		break;
	case KIND_ENUM:
		lua_pushstring(L, f->enumeration->members[
			enum_match(f->enumeration, record_tail(r) + s->s.off, s->s.len)]);
		break;
	case KIND_BOOLEAN:
		lua_pushboolean(L, (int)s->i);
		break;
	case KIND_INT32:
	case KIND_INT64:
		lua_pushinteger(L, (lua_Integer)s->i);
		break;
	case KIND_OBJECT:
		lua_getiuservalue(L, idx, (int)s->i);
		break;
	case KIND_OBJECT_LIST:
		/* A copy, so that changing it cannot change the record. */
		lua_getiuservalue(L, idx, (int)s->i);
		push_list_copy(L, lua_gettop(L));
		lua_remove(L, -2);
		break;
	}
}


/*
** __index. Handles: obj.field, obj:method(...).
** Upvalue 1 maps field names to indices; upvalue 2 is the method table.
*/
static int record_index(lua_State *L)
{
	const record *r = lua_touserdata(L, 1);

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER) {
		record_push_field(L, r, 1, (int)lua_tointeger(L, -1));
		return 1;
	}

	lua_pushvalue(L, 2);
	if (lua_gettable(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;

	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "%s has no field '%s'", r->type->tname, lua_tostring(L, 2));
	return luaL_error(L, "%s has no field %s", r->type->tname, luaL_tolstring(L, 2, NULL));
}


/* __newindex. Handles: obj.field = value, which always fails. */
static int record_newindex(lua_State *L)
{
	const record *r = lua_touserdata(L, 1);
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_tolstring(L, 2, NULL);

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER)
		return luaL_error(L, "attempt to modify read-only field '%s' of %s", key, r->type->tname);
	return luaL_error(L, "attempt to add field '%s' to read-only %s", key, r->type->tname);
}


/* __tostring. Handles: tostring(obj). Shows the type and the key field. */
static int record_tostring(lua_State *L)
{
	const record *r = record_check(L, 1, NULL);
	int key = r->type->is_entity ? 0 : field_index(r->type, "code", 4);

	if (key < 0) {
		lua_pushstring(L, r->type->tname);
		return 1;
	}

	record_push_field(L, r, 1, key);
	if (lua_isnil(L, -1))
		lua_pushfstring(L, "%s(%s=nil)", r->type->tname, r->type->fields[key]->name);
	else
		lua_pushfstring(L, "%s(%s=%s)", r->type->tname, r->type->fields[key]->name, lua_tostring(L, -1));
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Equality                                                */
/* ======================================================= */

static int records_equal(lua_State *L, int ia, int ib);


static int lists_equal(lua_State *L, int la, int lb)
{
	lua_Integer n = luaL_len(L, la);
	int equal = 1;

	if (luaL_len(L, lb) != n) return 0;
	for (lua_Integer i = 1; equal && i <= n; i++) {
		lua_rawgeti(L, la, i);
		lua_rawgeti(L, lb, i);
		equal = records_equal(L, lua_gettop(L) - 1, lua_gettop(L));
		lua_pop(L, 2);
	}
	return equal;
}


static int nested_equal(lua_State *L, int ia, int ib, int uv, field_kind kind)
{
	int equal;

	luaL_checkstack(L, 4, "nesting too deep");
	lua_getiuservalue(L, ia, uv);
	lua_getiuservalue(L, ib, uv);
	if (kind == KIND_OBJECT) equal = records_equal(L, lua_gettop(L) - 1, lua_gettop(L));
	else equal = lists_equal(L, lua_gettop(L) - 1, lua_gettop(L));
	lua_pop(L, 2);
	return equal;
}


static int unknown_find(const record *r, const char *key, size_t klen, const char **json, size_t *jlen)
{
	unknown_iter it;
	const char *k;
	size_t kl;

	unknown_iter_init(&it, r);
	while (unknown_iter_next(&it, &k, &kl, json, jlen))
		if (kl == klen && memcmp(k, key, klen) == 0) return 1;
	return 0;
}


/* Unknown properties are compared as a set: their order is representation, not value. */
static int unknowns_equal(const record *a, const record *b)
{
	unknown_iter it;
	const char *key, *json, *other;
	size_t klen, jlen, olen;
	size_t na = 0, nb = 0;

	unknown_iter_init(&it, b);
	while (unknown_iter_next(&it, &key, &klen, &json, &jlen)) nb++;

	unknown_iter_init(&it, a);
	while (unknown_iter_next(&it, &key, &klen, &json, &jlen)) {
		na++;
		if (!unknown_find(b, key, klen, &other, &olen)) return 0;
		if (olen != jlen || memcmp(json, other, jlen) != 0) return 0;
	}
	return na == nb;
}


/*
** Two records are equal when they have the same type, the same fields
** present or null, equal field values and the same unknown properties.
** Property order, the @odata.type spelling and whether an Int64 came quoted
** are representation and do not count.
*/
static int records_equal(lua_State *L, int ia, int ib)
{
	const record *a = record_test(L, ia, NULL), *b = record_test(L, ib, NULL);
	const slot *sa, *sb;

	if (a == NULL || b == NULL) return 0;
	if (a == b) return 1;
	if (a->type != b->type || a->present != b->present || a->nulls != b->nulls) return 0;

	sa = record_slots(a);
	sb = record_slots(b);
	for (int i = 0; i < a->type->nfields; i++) {
		field_kind kind = a->type->fields[i]->kind;

		if (!((a->present & ~a->nulls) >> i & 1)) continue;
		switch (kind) {
		case KIND_ENUM:
			/* Enum values match without regard to case, so they compare that way too. */
			if (!same_text_nocase(record_tail(a) + sa->s.off, sa->s.len, record_tail(b) + sb->s.off, sb->s.len))
				return 0;
			break;
		case KIND_STRING:
			/* A packed GUID never equals unpacked text: packing is decided by the text alone. */
			if ((a->variant ^ b->variant) >> i & 1) return 0;
			/* fall through */
		case KIND_DATETIME:
			if (sa->s.len != sb->s.len
			    || memcmp(record_tail(a) + sa->s.off, record_tail(b) + sb->s.off, sa->s.len) != 0)
				return 0;
			break;
		case KIND_OBJECT:
		case KIND_OBJECT_LIST:
			if (!nested_equal(L, ia, ib, (int)sa->i, kind)) return 0;
			break;
		default:
			if (sa->i != sb->i) return 0;
		}
		sa++;
		sb++;
	}
	return unknowns_equal(a, b);
}


/* __eq. Handles: a == b. False, never an error, for anything not a record. */
static int record_eq(lua_State *L)
{
	lua_pushboolean(L, records_equal(L, 1, 2));
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Methods                                                 */
/* ======================================================= */

static int field_arg(lua_State *L, const record *r, int arg)
{
	size_t len;
	const char *name = luaL_checklstring(L, arg, &len);
	int field = field_index(r->type, name, len);

	if (field < 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s has no field '%s'", r->type->tname, name));
	return field;
}


/* obj:raw(name): the value as written in JSON; differs from obj[name] for enums only. */
static int record_raw(lua_State *L)
{
	const record *r = record_check(L, 1, NULL);
	int field = field_arg(L, r, 2);
	uint32_t bit = 1u << field;

	if (r->type->fields[field]->kind == KIND_ENUM && (r->present & ~r->nulls & bit)) {
		const slot *s = &record_slots(r)[record_slot_index(r, field)];
		lua_pushlstring(L, record_tail(r) + s->s.off, s->s.len);
	}
	else {
		record_push_field(L, r, 1, field);
	}
	return 1;
}


/* obj:odata_type(): the @odata.type text as it came in, or nil. */
static int record_odata_type(lua_State *L)
{
	const record *r = record_check(L, 1, &type_entity);

	if (r->spelling == SPELLING_OTHER) {
		const char *tail = record_tail(r);
		lua_pushlstring(L, tail + 4, read_u32(tail));
	}
	else if (r->spelling < 3) {
		lua_pushstring(L, r->type->spellings[r->spelling]);
	}
	else {
		lua_pushnil(L);
	}
	return 1;
}


static int record_datetime(const record *r, int field, datetime *dt)
{
	const slot *s;

	if (!(r->present & ~r->nulls & (1u << field))) return 0;
	s = &record_slots(r)[record_slot_index(r, field)];
	return datetime_parse(record_tail(r) + s->s.off, s->s.len, dt) == NULL;
}


/* obj:instant([name]): seconds and nanoseconds since the epoch, or nil when the field is absent. */
static int record_instant(lua_State *L)
{
	const record *r = record_check(L, 1, NULL);
	int field;
	datetime dt;

	if (lua_isnoneornil(L, 2)) {
		field = field_index(r->type, "eventDateTime", 13);
		if (field < 0) return luaL_error(L, "%s has no field 'eventDateTime'", r->type->tname);
	}
	else {
		field = field_arg(L, r, 2);
		if (r->type->fields[field]->kind != KIND_DATETIME)
			return luaL_argerror(L, 2, lua_pushfstring(L, "'%s' is not a DateTimeOffset field",
			                                           r->type->fields[field]->name));
	}

	if (!record_datetime(r, field, &dt)) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushinteger(L, (lua_Integer)dt.seconds);
	lua_pushinteger(L, (lua_Integer)(dt.picoseconds / 1000));
	return 2;
}


/*
** by_time(a, b): true when a's eventDateTime is earlier than b's, for
** table.sort. All 12 fractional digits count; events without a time sort
** first; ties are broken by id so the order is total.
*/
static int record_by_time(lua_State *L)
{
	const record *a = record_check(L, 1, &type_migration_event);
	const record *b = record_check(L, 2, &type_migration_event);
	datetime da, db;
	int ha = record_datetime(a, 2, &da), hb = record_datetime(b, 2, &db);
	int less;

	if (ha != hb) less = hb;
	else if (ha && da.seconds != db.seconds) less = da.seconds < db.seconds;
	else if (ha && da.picoseconds != db.picoseconds) less = da.picoseconds < db.picoseconds;
	else {
		record_push_field(L, a, 1, 0);
		record_push_field(L, b, 2, 0);
		if (lua_isnil(L, -1)) less = 0;
		else if (lua_isnil(L, -2)) less = 1;
		else less = lua_compare(L, -2, -1, LUA_OPLT);
	}
	lua_pushboolean(L, less);
	return 1;
}


static void push_unknowns(lua_State *L, const record *r, int into)
{
	unknown_iter it;
	const char *key, *json;
	size_t klen, jlen;

	unknown_iter_init(&it, r);
	while (unknown_iter_next(&it, &key, &klen, &json, &jlen)) {
		lua_pushlstring(L, key, klen);
		json_push_value(L, json, jlen);
		lua_rawset(L, into);
	}
}


/* obj:additional_data(): the unknown properties as Lua values. */
static int record_additional_data(lua_State *L)
{
	const record *r = record_check(L, 1, NULL);

	lua_newtable(L);
	push_unknowns(L, r, lua_gettop(L));
	return 1;
}


static void push_plain_table(lua_State *L, int idx);


static void push_plain_value(lua_State *L, const record *r, int idx, int field)
{
	const field_desc *f = r->type->fields[field];
	const slot *s = &record_slots(r)[record_slot_index(r, field)];

	if (r->nulls & (1u << field)) {
		lua_pushlightuserdata(L, NULL);
		return;
	}

	if (f->kind == KIND_ENUM) {
		lua_pushlstring(L, record_tail(r) + s->s.off, s->s.len);
	}
	else if (f->kind == KIND_OBJECT) {
		lua_getiuservalue(L, idx, (int)s->i);
		push_plain_table(L, lua_gettop(L));
		lua_remove(L, -2);
	}
	else if (f->kind == KIND_OBJECT_LIST) {
		int list;
		lua_Integer n;

		lua_getiuservalue(L, idx, (int)s->i);
		list = lua_gettop(L);
		n = luaL_len(L, list);
		lua_createtable(L, (int)n, 0);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, list, i);
			push_plain_table(L, lua_gettop(L));
			lua_remove(L, -2);
			lua_rawseti(L, -2, i);
		}
		lua_remove(L, list);
	}
	else {
		record_push_field(L, r, idx, field);
	}
}


static void push_plain_table(lua_State *L, int idx)
{
	const record *r = record_test(L, idx, NULL);

	luaL_checkstack(L, 6, "nesting too deep");
	lua_createtable(L, 0, r->nprops + 1);
	if (r->type->is_entity && r->spelling != SPELLING_NONE) {
		lua_pushcfunction(L, record_odata_type);
		lua_pushvalue(L, idx);
		lua_call(L, 1, 1);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_pushlightuserdata(L, NULL);
		}
		lua_setfield(L, -2, "@odata.type");
	}

	for (int i = 0; i < r->type->nfields; i++) {
		if (!(r->present >> i & 1)) continue;
		push_plain_value(L, r, idx, i);
		lua_setfield(L, -2, r->type->fields[i]->name);
	}
	push_unknowns(L, r, lua_gettop(L));
}


/* obj:to_table(): a plain table with the same content, JSON null as a NULL light userdata. */
static int record_to_table(lua_State *L)
{
	record_check(L, 1, NULL);
	push_plain_table(L, 1);
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Constructors                                            */
/* ======================================================= */

static void build_from_table(lua_State *L, const type_desc *type, int t, const char *path);


static int new_error(lua_State *L, const type_desc *type, const char *path, const char *name,
                     const char *expected, int value)
{
	const char *got;

	if (lua_type(L, value) == LUA_TNUMBER || lua_type(L, value) == LUA_TBOOLEAN)
		got = luaL_tolstring(L, value, NULL);
	else if (lua_type(L, value) == LUA_TSTRING)
		got = lua_pushfstring(L, "string \"%s\"", lua_tostring(L, value));
	else
		got = luaL_typename(L, value);

	return luaL_error(L, "bad property '%s%s' to '%s.new' (expected %s, got %s)",
	                  path, name, type->name, expected, got);
}


/* Checks strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i++];
		unsigned char lo = 0x80, hi = 0xBF;
		int need;

		if (c < 0x80) continue;
		if (c >= 0xC2 && c <= 0xDF) need = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0) lo = 0xA0;
			if (c == 0xED) hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0) lo = 0x90;
			if (c == 0xF4) hi = 0x8F;
		}
		else return 0;

		for (; need > 0; need--, lo = 0x80, hi = 0xBF) {
			if (i == len || s[i] < lo || s[i] > hi) return 0;
			i++;
		}
	}
	return 1;
}


static int64_t integer_value(lua_State *L, const type_desc *type, const char *path, const field_desc *f,
                             int value, int64_t min, int64_t max)
{
	const char *expected = f->kind == KIND_INT32 ? "Int32" : "Int64";
	lua_Integer n;

	if (lua_type(L, value) != LUA_TNUMBER) new_error(L, type, path, f->name, expected, value);
	if (!lua_isinteger(L, value)) {
		/* An integral float is accepted; lua_tointegerx refuses fractions and out-of-range values. */
		int ok;
		n = lua_tointegerx(L, value, &ok);
		if (!ok) new_error(L, type, path, f->name, expected, value);
	}
	else {
		n = lua_tointeger(L, value);
	}
	if (n < min || n > max) new_error(L, type, path, f->name, expected, value);
	return (int64_t)n;
}


static void nested_value(lua_State *L, const type_desc *type, const char *path, const field_desc *f,
                         int value)
{
	const type_desc *ot = f->object_type;
	const char *inner;

	if (f->kind == KIND_OBJECT) {
		if (record_test(L, value, ot)) {
			lua_pushvalue(L, value);
			return;
		}
		if (!lua_istable(L, value)) new_error(L, type, path, f->name, ot->tname, value);
		inner = lua_pushfstring(L, "%s%s.", path, f->name);
		build_from_table(L, ot, value, inner);
		lua_remove(L, -2);
		return;
	}

	if (!lua_istable(L, value)) new_error(L, type, path, f->name, "table", value);
	lua_newtable(L);
	for (lua_Integer i = 1; lua_rawgeti(L, value, i) != LUA_TNIL; i++) {
		int item = lua_gettop(L);

		if (record_test(L, item, ot)) {
			lua_rawseti(L, -2, i);
			continue;
		}
		inner = lua_pushfstring(L, "%s%s[%I].", path, f->name, (lua_Integer)(i - 1));
		if (!lua_istable(L, item)) {
			lua_pop(L, 1);
			inner = lua_pushfstring(L, "%s[%I]", f->name, (lua_Integer)(i - 1));
			new_error(L, type, path, inner, ot->tname, item);
		}
		build_from_table(L, ot, item, inner);
		lua_rawseti(L, -4, i);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}


static void field_from_lua(lua_State *L, builder *b, const char *path, int field, int value)
{
	const type_desc *type = b->type;
	const field_desc *f = type->fields[field];
	field_value *v = &b->values[field];
	datetime dt;

	b->present |= 1u << field;
	if (lua_type(L, value) == LUA_TLIGHTUSERDATA && lua_touserdata(L, value) == NULL) {
		b->nulls |= 1u << field;
		return;
	}

	switch (f->kind) {
	case KIND_STRING:
	case KIND_ENUM:
	case KIND_DATETIME:
		if (lua_type(L, value) != LUA_TSTRING)
			new_error(L, type, path, f->name, f->kind == KIND_DATETIME ? "DateTimeOffset" : "String", value);
		v->text = lua_tolstring(L, value, &v->len);
		if (!utf8_valid(v->text, v->len)) new_error(L, type, path, f->name, "UTF-8 text", value);
		if (f->kind == KIND_DATETIME && datetime_parse(v->text, v->len, &dt))
			new_error(L, type, path, f->name, "DateTimeOffset", value);
		break;
	case KIND_BOOLEAN:
		if (lua_type(L, value) != LUA_TBOOLEAN) new_error(L, type, path, f->name, "Boolean", value);
		v->v.i = lua_toboolean(L, value);
		break;
	case KIND_INT32:
		v->v.i = integer_value(L, type, path, f, value, INT32_MIN, INT32_MAX);
		break;
	case KIND_INT64:
		v->v.i = integer_value(L, type, path, f, value, INT64_MIN, INT64_MAX);
		break;
	case KIND_OBJECT:
	case KIND_OBJECT_LIST:
		nested_value(L, type, path, f, value);
		break;
	}
}


/* Builds a record of type from the table at t and pushes it; path prefixes property names in errors. */
static void build_from_table(lua_State *L, const type_desc *type, int t, const char *path)
{
	builder b;
	uint8_t order[MAX_FIELDS];
	int nested;

	builder_init(&b, type);
	if (type->is_entity) b.spelling = 0;
	luaL_checkstack(L, MAX_FIELDS + 8, "too many nested values");

	/* Converted nested values wait here, by field index, until the record is built. */
	lua_newtable(L);
	nested = lua_gettop(L);

	lua_pushnil(L);
	while (lua_next(L, t)) {
		size_t len;
		const char *key;
		int field;

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "bad property %s to '%s.new' (property names are strings)",
			           luaL_tolstring(L, -2, NULL), type->name);
		key = lua_tolstring(L, -2, &len);

		if (type->is_entity && strcmp(key, "@odata.type") == 0) {
			int s = 0;
			if (lua_type(L, -1) == LUA_TSTRING)
				for (; s < 3; s++)
					if (strcmp(lua_tostring(L, -1), type->spellings[s]) == 0) break;
			if (lua_type(L, -1) != LUA_TSTRING || s == 3)
				luaL_error(L, "bad property '%s@odata.type' to '%s.new' (expected one of \"%s\", \"%s\", \"%s\")",
				           path, type->name, type->spellings[0], type->spellings[1], type->spellings[2]);
			b.spelling = (uint8_t)s;
			lua_pop(L, 1);
			continue;
		}

		field = field_index(type, key, len);
		if (field < 0) {
			luaL_error(L, "bad property '%s%s' to '%s.new' (%s has no such property)",
			           path, key, type->name, type->name);
			return;
		}

		/* Text values stay valid: the table at t keeps them alive. */
		field_from_lua(L, &b, path, field, lua_gettop(L));
		if (lua_gettop(L) > nested + 2) lua_rawseti(L, nested, field);
		lua_pop(L, 1);
	}

	for (int i = 0; i < type->nfields; i++) {
		if (!(b.present >> i & 1)) continue;
		order[b.nprops++] = (uint8_t)i;
		if (lua_rawgeti(L, nested, i) == LUA_TNIL) lua_pop(L, 1);
		else b.values[i].stack_index = lua_gettop(L);
	}
	b.order = order;

	record_build(L, &b);
	lua_replace(L, nested);
	lua_settop(L, nested);
}


/* Type.new{...}. Upvalue 1: the type descriptor. */
static int record_new(lua_State *L)
{
	const type_desc *type = lua_touserdata(L, lua_upvalueindex(1));

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	build_from_table(L, type, 1, "");
	return 1;
}

/* }====================================================== */


/* {====================================================== */
/* Registration                                            */
/* ======================================================= */

int encode_method(lua_State *L);

static const luaL_Reg record_methods[] = {
	{ "to_json", encode_method },
	{ "to_table", record_to_table },
	{ "additional_data", record_additional_data },
	{ "raw", record_raw },
	{ NULL, NULL }
};

static const luaL_Reg entity_methods[] = {
	{ "odata_type", record_odata_type },
	{ "instant", record_instant },
	{ NULL, NULL }
};


/* is_a(obj, Type): Type is a type table or a type name. */
static int module_is_a(lua_State *L)
{
	const record *r = record_test(L, 1, NULL);
	const type_desc *want;
	size_t len;
	const char *name;

	if (lua_istable(L, 2)) lua_getfield(L, 2, "name");
	else lua_pushvalue(L, 2);
	if (lua_type(L, -1) != LUA_TSTRING)
		return luaL_typeerror(L, 2, "type table or type name");
	name = lua_tolstring(L, -1, &len);
	want = type_find(name, len);
	if (want == NULL) return luaL_argerror(L, 2, lua_pushfstring(L, "unknown type '%s'", name));

	lua_pushboolean(L, r != NULL && type_is_a(r->type, want));
	return 1;
}


/* get(obj, name): the property's value, or nil when it is absent, null or not a property of the type. */
static int module_get(lua_State *L)
{
	const record *r = record_check(L, 1, NULL);
	size_t len;
	const char *name = luaL_checklstring(L, 2, &len);
	int field = field_index(r->type, name, len);

	if (field < 0) lua_pushnil(L);
	else record_push_field(L, r, 1, field);
	return 1;
}


/* type(obj): the type name of a record, or nil for any other value. */
static int module_type(lua_State *L)
{
	const record *r = record_test(L, 1, NULL);

	if (r) lua_pushstring(L, r->type->name);
	else lua_pushnil(L);
	return 1;
}


/*
** Creates the metatable, method table and public type table of each type;
** expects the module table on top of the stack.
*/
void record_open(lua_State *L)
{
	int module = lua_gettop(L);

	for (int t = 0; t < schema_ntypes; t++) {
		const type_desc *type = schema_types[t];
		int methods, mt, fields;

		lua_newtable(L);                                   /* type table */
		lua_pushstring(L, type->name);
		lua_setfield(L, -2, "name");

		/* Method table, chained to the base type's. */
		lua_newtable(L);
		methods = lua_gettop(L);
		if (type->base) {
			lua_getfield(L, module, type->base->name);
			lua_getfield(L, -1, "methods");
			lua_remove(L, -2);
			lua_createtable(L, 0, 1);
			lua_insert(L, -2);
			lua_setfield(L, -2, "__index");
			lua_setmetatable(L, methods);
		}
		else {
			luaL_setfuncs(L, record_methods, 0);
			if (type->is_entity) luaL_setfuncs(L, entity_methods, 0);
		}
		lua_pushvalue(L, methods);
		lua_setfield(L, -3, "methods");

		/* Field name -> index, and the list of field names. */
		lua_createtable(L, 0, type->nfields);
		fields = lua_gettop(L);
		lua_createtable(L, type->nfields, 0);
		for (int i = 0; i < type->nfields; i++) {
			lua_pushinteger(L, i);
			lua_setfield(L, fields, type->fields[i]->name);
			lua_pushstring(L, type->fields[i]->name);
			lua_rawseti(L, -2, i + 1);
		}
		lua_setfield(L, -4, "fields");

		luaL_newmetatable(L, type->tname);
		mt = lua_gettop(L);
		lua_pushvalue(L, fields);
		lua_pushvalue(L, methods);
		lua_pushcclosure(L, record_index, 2);
		lua_setfield(L, mt, "__index");
		lua_pushvalue(L, fields);
		lua_pushcclosure(L, record_newindex, 1);
		lua_setfield(L, mt, "__newindex");
		lua_pushcfunction(L, record_eq);
		lua_setfield(L, mt, "__eq");
		lua_pushcfunction(L, record_tostring);
		lua_setfield(L, mt, "__tostring");
		lua_pushstring(L, type->tname);
		lua_setfield(L, mt, "__metatable");
		lua_pushlightuserdata(L, (void *)type);
		lua_rawsetp(L, mt, &record_desc_key);
		lua_pushvalue(L, mt);
		lua_rawsetp(L, LUA_REGISTRYINDEX, type);
		lua_settop(L, methods - 1);                        /* type table */

		if (type->base) {
			lua_getfield(L, module, type->base->name);
			lua_setfield(L, -2, "base");
		}
		if (type->spellings[0]) {
			lua_createtable(L, 3, 0);
			for (int s = 0; s < 3; s++) {
				lua_pushstring(L, type->spellings[s]);
				lua_rawseti(L, -2, s + 1);
			}
			lua_setfield(L, -2, "spellings");
		}
		if (!type->is_abstract) {
			lua_pushlightuserdata(L, (void *)type);
			lua_pushcclosure(L, record_new, 1);
			lua_setfield(L, -2, "new");
		}
		lua_setfield(L, module, type->name);
	}

	lua_pushcfunction(L, module_is_a);
	lua_setfield(L, module, "is_a");
	lua_pushcfunction(L, module_type);
	lua_setfield(L, module, "type");
	lua_pushcfunction(L, module_get);
	lua_setfield(L, module, "get");
	lua_pushcfunction(L, record_by_time);
	lua_setfield(L, module, "by_time");
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, module, "null");
}

/* }====================================================== */
