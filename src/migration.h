/*
** Internal interface shared by the C files of msgraph.migration.core.
**
** Ownership: every object the module hands to Lua is a userdata whose
** memory Lua owns. A record (one event or nested object) is a single
** userdata block. It contains a header, one 8-byte slot per property that
** has a value, the order in which properties appeared, and a tail with the
** text of strings and of unknown properties. Nested records live in the record's
** user values. Parsers and encoders keep their C heap memory in an arena
** owned by a userdata with __gc, so an error raised anywhere (including
** inside a YAJL callback) leaks nothing: the arena is freed when Lua
** collects its box.
*/

#ifndef MSGRAPH_MIGRATION_H
#define MSGRAPH_MIGRATION_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "schema.h"

/* Deepest JSON nesting accepted, counted from the document root. */
#define MAX_DEPTH 64

/* Most properties one JSON object may have (the order array uses 16 bits). */
#define MAX_PROPERTIES 65535


/* {====================================================== */
/* Arena: C heap memory owned by a collectable userdata    */
/* ======================================================= */

typedef struct arena_block arena_block;

typedef struct arena {
	lua_State *L;
	lua_Alloc alloc;
	void *alloc_ud;
	arena_block *head;
} arena;

void arena_init(arena *a, lua_State *L);
void *arena_realloc(arena *a, void *p, size_t size);  /* raises "not enough memory" */
void arena_free(arena *a, void *p);
void arena_release(arena *a);

/* A growable byte buffer in an arena. */
typedef struct bytes {
	char *data;
	size_t len;
	size_t cap;
} bytes;

void bytes_grow(arena *a, bytes *b, size_t extra);

/* Makes room for extra more bytes; the decoder calls these per token, so they are inline. */
static inline void bytes_reserve(arena *a, bytes *b, size_t extra)
{
	/* Allocates even for 0 bytes, so that data is never NULL after an append. */
	if (b->data == NULL || b->cap - b->len < extra) bytes_grow(a, b, extra);
}


static inline void bytes_append(arena *a, bytes *b, const void *data, size_t len)
{
	bytes_reserve(a, b, len);
	if (len) memcpy(b->data + b->len, data, len);
	b->len += len;
}


static inline void bytes_put(arena *a, bytes *b, char c)
{
	bytes_reserve(a, b, 1);
	b->data[b->len++] = c;
}


static inline void bytes_append_u32(arena *a, bytes *b, uint32_t v)
{
	bytes_append(a, b, &v, sizeof v);
}

/* }====================================================== */


/* {====================================================== */
/* Records                                                 */
/* ======================================================= */

/* @odata.type states besides an index into type_desc.spellings. */
#define SPELLING_NONE  0xFF  /* no @odata.type member */
#define SPELLING_NULL  0xFE  /* "@odata.type": null */
#define SPELLING_OTHER 0xFD  /* text stored at the start of the tail */

/* Order entry for an unknown property (the next one in the unknown area). */
#define ORDER_UNKNOWN 0xFF

typedef union slot {
	int64_t i;                                  /* Boolean, Int32, Int64, user value index */
	struct { uint32_t off, len; } s;            /* text in the tail */
} slot;

typedef struct record {
	const type_desc *type;
	uint32_t present;    /* bit i: field i appeared, with a value or null */
	uint32_t nulls;      /* bit i: field i was null */
	uint32_t variant;    /* bit i: Int64 field i came as a JSON string, or String field i is a packed GUID */
	uint16_t nprops;     /* entries in the order array */
	uint8_t spelling;
	uint8_t unused;
	uint32_t unknown_off;  /* start of the unknown-property area in the tail */
	uint32_t tail_len;
} record;

/* Slots follow the header, then the order array, then the tail. */
#define record_slots(r) ((slot *)((r) + 1))

/* Text length of a GUID in its canonical form, 8-4-4-4-12 lowercase hex digits. */
#define GUID_TEXT_LEN 36
uint8_t *record_order(const record *r);
const char *record_tail(const record *r);
int record_slot_index(const record *r, int field);

/*
** What a record is built from; decode and new both fill one. Text pointers
** must stay valid until record_build returns.
*/
typedef struct field_value {
	slot v;
	const char *text;   /* text kinds */
	size_t len;
	int stack_index;    /* KIND_OBJECT and KIND_OBJECT_LIST: the value's stack slot */
} field_value;

typedef struct builder {
	const type_desc *type;
	uint32_t present, nulls, quoted;
	field_value values[MAX_FIELDS];
	const uint8_t *order;
	size_t nprops;
	const char *unknown;      /* serialized unknown area: (u32 len, key, u32 len, JSON)* */
	size_t unknown_len;
	uint8_t spelling;
	const char *type_text;    /* SPELLING_OTHER */
	size_t type_len;
} builder;

void builder_init(builder *b, const type_desc *type);
void record_build(lua_State *L, const builder *b);  /* pushes the new record */

record *record_test(lua_State *L, int idx, const type_desc *want);
record *record_check(lua_State *L, int idx, const type_desc *want);
int type_is_a(const type_desc *type, const type_desc *want);
const type_desc *type_find(const char *name, size_t len);
void record_push_field(lua_State *L, const record *r, int idx, int field);
const char *record_text(const record *r, int field, char buf[GUID_TEXT_LEN], size_t *len);
void record_open(lua_State *L);

/* Walks the unknown area: returns 0 at its end. */
typedef struct unknown_iter {
	const char *p, *end;
} unknown_iter;

void unknown_iter_init(unknown_iter *it, const record *r);
int unknown_iter_next(unknown_iter *it, const char **key, size_t *klen,
                      const char **json, size_t *jlen);

int field_index(const type_desc *type, const char *name, size_t len);
int enum_match(const enum_desc *e, const char *text, size_t len);
int same_text_nocase(const char *a, size_t alen, const char *b, size_t blen);

/* }====================================================== */


/* {====================================================== */
/* JSON text                                               */
/* ======================================================= */

void json_escape(arena *a, bytes *out, const char *s, size_t len);
void json_push_value(lua_State *L, const char *json, size_t len);  /* canonical JSON to Lua */
void encode_open(lua_State *L);
void decode_open(lua_State *L);
int int_parse(const char *s, size_t len, int64_t *out);  /* 1 if s is a plain integer in range */
void describe_json_value(luaL_Buffer *b, int jtype, const char *text, size_t len);

/* JSON value kinds as the decoder records them. */
enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_OBJECT, J_ARRAY };

/* }====================================================== */


/* {====================================================== */
/* DateTimeOffset                                          */
/* ======================================================= */

typedef struct datetime {
	int64_t seconds;        /* since 1970-01-01T00:00:00Z */
	int64_t picoseconds;    /* 0 to 999999999999 */
	int offset_minutes;
	int has_zone;
} datetime;

/* Returns NULL when valid, else the reason. */
const char *datetime_parse(const char *s, size_t len, datetime *out);

/* }====================================================== */

/* Key of the type descriptor stored in each record metatable. */
extern const char record_desc_key;

#endif
