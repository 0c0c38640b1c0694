/*
** Arena: C heap memory taken from the Lua state's allocator and linked into
** a list, so that one call frees everything even after an error unwound the
** code that allocated it. Allocation failure raises a Lua error at once;
** YAJL does not check its own allocations, so its allocator must not return
** NULL.
*/

#include <string.h>

#include "migration.h"

struct arena_block {
	arena_block *prev, *next;
	size_t size;
	size_t pad;    /* keeps the payload 16-byte aligned on 64-bit targets */
};


void arena_init(arena *a, lua_State *L)
{
	a->L = L;
	a->alloc = lua_getallocf(L, &a->alloc_ud);
	a->head = NULL;
}


static void unlink_block(arena *a, arena_block *b)
{
	if (b->prev) b->prev->next = b->next;
	else a->head = b->next;
	if (b->next) b->next->prev = b->prev;
}


static void link_block(arena *a, arena_block *b)
{
	b->prev = NULL;
	b->next = a->head;
	if (a->head) a->head->prev = b;
	a->head = b;
}


void *arena_realloc(arena *a, void *p, size_t size)
{
	arena_block *old = p ? (arena_block *)p - 1 : NULL;
	arena_block *b;

	if (size > (size_t)-1 - sizeof(arena_block))
		luaL_error(a->L, "not enough memory");

	/* Unlink first: a moved block must be relinked at its new address. */
	if (old) unlink_block(a, old);
	b = a->alloc(a->alloc_ud, old, old ? old->size + sizeof *old : 0, size + sizeof *b);
	if (b == NULL) {
		if (old) link_block(a, old);  /* a failed realloc leaves the block as it was */
		luaL_error(a->L, "not enough memory");
		return NULL;
	}

	b->size = size;
	link_block(a, b);
	return b + 1;
}


void arena_free(arena *a, void *p)
{
	arena_block *b;

	if (p == NULL) return;
	b = (arena_block *)p - 1;
	unlink_block(a, b);
	a->alloc(a->alloc_ud, b, b->size + sizeof *b, 0);
}


void arena_release(arena *a)
{
	while (a->head) arena_free(a, a->head + 1);
}


void bytes_grow(arena *a, bytes *b, size_t extra)
{
	size_t cap;

	if (extra > (size_t)-1 / 2 - b->len) luaL_error(a->L, "not enough memory");

	cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) cap *= 2;
	b->data = arena_realloc(a, b->data, cap);
	b->cap = cap;
}
