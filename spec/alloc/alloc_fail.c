/*
 * Allocation-failure test for msgraph.migration.
 *
 * Usage: alloc_fail SOURCE_ROOT [OPERATION...]
 *
 * For each operation in spec/alloc/driver.lua, and for k = 1, 2, ... this program
 * opens a fresh Lua state whose allocator fails at the k-th allocation counted
 * from the start of the operation, runs the operation once, and checks that:
 *   - the run ends in success or a Lua memory error ("not enough memory"), or in
 *     the operation's own expected error, and never in any other error;
 *   - after a memory error the same state can run the operation again with the
 *     allocator restored, and gets the right result;
 *   - lua_close frees every byte the state allocated.
 * The loop for an operation stops at the first k whose run succeeds without
 * reaching the failing allocation.
 *
 * Two failure modes run for every k. "From k on" fails every allocation from the
 * k-th until the operation returns. "Only k" fails the k-th alone: Lua mostly
 * absorbs that by collecting garbage and retrying, so this mode tests the code
 * paths that see a failed allocation and go on.
 *
 * Memory that the module takes from malloc directly, not through the Lua
 * allocator, is missing from the byte count. For that memory, build with
 * AddressSanitizer (as `make test-alloc` does): a leak check then runs after
 * every run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LEAK_SANITIZER 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define HAVE_LEAK_SANITIZER 1
#endif

#ifdef HAVE_LEAK_SANITIZER
#include <sanitizer/lsan_interface.h>
#endif

int luaopen_msgraph_migration_core(lua_State *L);

/* Bound on k, far above what any operation in the driver needs. An operation
 * that still reaches its failing allocation at this k is reported as a failure. */
#define MAX_ALLOCATIONS 200000

/* Failed runs after which an operation's loop stops, so one bug does not
 * print a report for every later k. */
#define MAX_FAILED_RUNS 5

enum failure_mode { FAIL_FROM_K_ON, FAIL_ONLY_K };

static const char *const mode_names[] = { "from k on", "only k" };

struct limiter {
	size_t live_bytes;    /* bytes allocated and not yet freed */
	size_t allocations;   /* allocations counted since the limiter was armed */
	size_t fail_at;       /* 1-based index of the first failing allocation, or 0 to fail none */
	size_t failures;      /* allocations refused since the limiter was armed */
	int armed;
	enum failure_mode mode;
};

/* lua_Alloc that counts every request for new or larger memory while armed.
 * Shrinking and freeing never fail, as the Lua manual requires. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct limiter *limiter = ud;
	size_t old_size = ptr != NULL ? osize : 0;
	void *block;

	if (nsize == 0) {
		limiter->live_bytes -= old_size;
		free(ptr);
		return NULL;
	}
	if (limiter->armed && nsize > old_size) {
		limiter->allocations++;
		if (limiter->fail_at != 0 &&
		    (limiter->allocations == limiter->fail_at ||
		     (limiter->mode == FAIL_FROM_K_ON && limiter->allocations > limiter->fail_at))) {
			limiter->failures++;
			return NULL;
		}
	}
	block = realloc(ptr, nsize);
	if (block == NULL)
		return NULL;
	limiter->live_bytes = limiter->live_bytes - old_size + nsize;
	return block;
}

static void arm(struct limiter *limiter, size_t fail_at, enum failure_mode mode)
{
	limiter->allocations = 0;
	limiter->failures = 0;
	limiter->fail_at = fail_at;
	limiter->mode = mode;
	limiter->armed = 1;
}

static void disarm(struct limiter *limiter)
{
	limiter->armed = 0;
}

static const char *source_root;

#ifdef HAVE_LEAK_SANITIZER
static int leak_reported;
#endif

/* Opens the standard libraries, preloads the linked core and points
 * package.path at the Lua layer in the source tree. */
static void open_project(lua_State *L)
{
	luaL_openlibs(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_msgraph_migration_core);
	lua_setfield(L, -2, "msgraph.migration.core");
	lua_pop(L, 1);

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua", source_root, source_root);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* Runs spec/alloc/driver.lua and pushes the table it returns. */
static void load_driver(lua_State *L)
{
	lua_pushfstring(L, "%s/spec/alloc/driver.lua", source_root);
	if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK)
		lua_error(L);
	lua_remove(L, -2);
	lua_pushstring(L, source_root);
	lua_call(L, 1, 1);
}

/* Leaves driver.operations[name] on the stack. Runs in protected mode, unarmed. */
static int load_operation(lua_State *L)
{
	const char *name = lua_tostring(L, 1);

	open_project(L);
	load_driver(L);
	lua_getfield(L, -1, "operations");
	lua_getfield(L, -1, name);
	if (lua_type(L, -1) != LUA_TTABLE)
		return luaL_error(L, "spec/alloc/driver.lua has no operation named '%s'", name);
	return 1;
}

/* Calls operation.prepare() and leaves the function to measure on the stack. */
static int prepare_run(lua_State *L)
{
	lua_getfield(L, 1, "prepare");
	lua_call(L, 0, 1);
	luaL_checktype(L, -1, LUA_TFUNCTION);
	return 1;
}

enum outcome { RUN_SUCCEEDED, RUN_MEMORY_ERROR, RUN_FAILED };

struct run_result {
	enum outcome outcome;
	size_t allocations;   /* allocations the armed call requested */
	size_t failures;      /* of those, how many the limiter refused */
	char problem[1024];
};

/* Appends a formatted description to result->problem, separated by "; ",
 * and marks the run failed. */
static void add_problem(struct run_result *result, const char *format, ...)
{
	size_t used = strlen(result->problem);
	va_list args;

	if (used > 0 && used + 2 < sizeof result->problem) {
		memcpy(result->problem + used, "; ", 3);
		used += 2;
	}
	va_start(args, format);
	vsnprintf(result->problem + used, sizeof result->problem - used, format, args);
	va_end(args);
	result->outcome = RUN_FAILED;
}

static const char *error_text(lua_State *L)
{
	const char *message = lua_tostring(L, -1);
	return message != NULL ? message : "(error object is not a string)";
}

static int is_memory_error(lua_State *L, int status)
{
	const char *message = lua_tostring(L, -1);
	if (status == LUA_ERRMEM)
		return 1;
	return message != NULL && strstr(message, "not enough memory") != NULL;
}

/* Returns 1 when the error at the top of the stack is operation.expected_error. */
static int is_expected_error(lua_State *L, int operation)
{
	int equal;
	lua_getfield(L, operation, "expected_error");
	equal = lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING &&
	        lua_rawequal(L, -1, -2);
	lua_pop(L, 1);
	return equal;
}

/*
 * Judges the outcome of a finished call whose status and result (or error) are
 * at the top of the stack: success must pass operation.verify, and an error
 * must be the operation's expected error. Pops the result. Returns 1 if the
 * outcome is right.
 */
static int check_outcome(lua_State *L, int operation, int status, struct run_result *result, const char *call)
{
	int accepted;

	if (status != LUA_OK) {
		accepted = is_expected_error(L, operation);
		if (!accepted)
			add_problem(result, "%s raised: %s", call, error_text(L));
		lua_pop(L, 1);
		return accepted;
	}
	lua_getfield(L, operation, "verify");
	lua_insert(L, -2);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		add_problem(result, "verify after %s raised: %s", call, error_text(L));
		lua_pop(L, 1);
		return 0;
	}
	accepted = lua_toboolean(L, -1);
	if (!accepted)
		add_problem(result, "verify rejected the result of %s", call);
	lua_pop(L, 1);
	return accepted;
}

/*
 * Runs one operation in a new state with the k-th allocation failing
 * (fail_at 0 fails none) and fills result. Every failure is described in
 * result->problem.
 */
static void run_once(const char *name, size_t fail_at, enum failure_mode mode, struct run_result *result)
{
	struct limiter limiter;
	lua_State *L;
	int status;
	int operation;
	int run;

	memset(&limiter, 0, sizeof limiter);
	memset(result, 0, sizeof *result);

	L = lua_newstate(limited_alloc, &limiter);
	if (L == NULL) {
		add_problem(result, "lua_newstate failed");
		return;
	}
	lua_pushcfunction(L, load_operation);
	lua_pushstring(L, name);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		add_problem(result, "setup failed: %s", error_text(L));
		lua_close(L);
		return;
	}
	operation = lua_gettop(L);
	lua_pushcfunction(L, prepare_run);
	lua_pushvalue(L, operation);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		add_problem(result, "prepare failed: %s", error_text(L));
		lua_close(L);
		return;
	}
	run = lua_gettop(L);

	/* Only the call itself runs armed: there is no message handler, so nothing
	 * but the operation allocates between arm() and disarm(). */
	lua_pushvalue(L, run);
	arm(&limiter, fail_at, mode);
	status = lua_pcall(L, 0, 1, 0);
	disarm(&limiter);
	result->allocations = limiter.allocations;
	result->failures = limiter.failures;

	if (status != LUA_OK && is_memory_error(L, status)) {
		result->outcome = RUN_MEMORY_ERROR;
		lua_pop(L, 1);
		/* The state must still work after the memory error. */
		lua_pushvalue(L, run);
		status = lua_pcall(L, 0, 1, 0);
		check_outcome(L, operation, status, result, "the rerun after a memory error");
	} else {
		result->outcome = RUN_SUCCEEDED;
		check_outcome(L, operation, status, result, "the operation");
	}

	lua_close(L);
#ifdef HAVE_LEAK_SANITIZER
	/* Blames malloc'd memory that nothing references any more, such as a YAJL
	 * handle lost to a longjmp, on this run rather than on the whole program.
	 * Each check reports every leak found so far, old ones included, so after
	 * the first report later runs cannot be blamed and are not checked. */
	if (!leak_reported && __lsan_do_recoverable_leak_check() != 0) {
		leak_reported = 1;
		add_problem(result, "LeakSanitizer found unreachable memory (report above); "
		                    "later runs are not checked for leaks");
	}
#endif
	if (limiter.live_bytes != 0)
		add_problem(result, "%zu bytes still allocated after lua_close", limiter.live_bytes);
}

/* Runs every k for one operation and mode; returns the number of failed runs. */
static unsigned long test_operation(const char *name, enum failure_mode mode, unsigned long *passed)
{
	struct run_result result;
	unsigned long failed = 0;
	unsigned long runs = 0;
	size_t needed;
	size_t k;

	run_once(name, 0, mode, &result);
	if (result.outcome != RUN_SUCCEEDED) {
		printf("FAIL %s: unlimited run: %s\n", name, result.problem);
		return 1;
	}
	needed = result.allocations;

	for (k = 1; k <= MAX_ALLOCATIONS; k++) {
		run_once(name, k, mode, &result);
		runs++;
		if (result.outcome != RUN_FAILED)
			(*passed)++;
		if (result.outcome == RUN_FAILED) {
			failed++;
			printf("FAIL %s (fail %s, k=%zu): %s\n", name, mode_names[mode], k, result.problem);
			fflush(stdout);
			if (failed == MAX_FAILED_RUNS) {
				printf("%s (fail %s): stopped after %d failed runs\n", name, mode_names[mode], MAX_FAILED_RUNS);
				break;
			}
		}
		if (result.outcome == RUN_SUCCEEDED && result.failures == 0)
			break;
	}
	if (k > MAX_ALLOCATIONS) {
		failed++;
		printf("FAIL %s (fail %s): still reaching the failing allocation at k=%d\n",
		       name, mode_names[mode], MAX_ALLOCATIONS);
	}
	printf("%s (fail %s): %zu allocations, %lu runs, %lu failed\n",
	       name, mode_names[mode], needed, runs, failed);
	fflush(stdout);
	return failed;
}

/* Pushes driver.order, the operations to run when none are named. */
static int list_operations(lua_State *L)
{
	open_project(L);
	load_driver(L);
	lua_getfield(L, -1, "order");
	luaL_checktype(L, -1, LUA_TTABLE);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long passed = 0;
	unsigned long failed = 0;
	lua_State *L;
	int count;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT [OPERATION...]\n", argv[0]);
		return 2;
	}
	source_root = argv[1];
	/* LeakSanitizer ends a leaking process with _exit, which skips flushing a
	 * fully buffered stdout and would lose the summary line. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The operation names live in a plain state that only reads the driver. */
	L = luaL_newstate();
	if (L == NULL) {
		fprintf(stderr, "alloc: luaL_newstate failed\n");
		return 1;
	}
	if (argc > 2) {
		lua_createtable(L, argc - 2, 0);
		for (i = 2; i < argc; i++) {
			lua_pushstring(L, argv[i]);
			lua_rawseti(L, -2, i - 1);
		}
	} else {
		lua_pushcfunction(L, list_operations);
		if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
			fprintf(stderr, "alloc: cannot read spec/alloc/driver.lua: %s\n", lua_tostring(L, -1));
			lua_close(L);
			return 1;
		}
	}

	count = (int)luaL_len(L, -1);
	for (i = 1; i <= count; i++) {
		char name[128];
		lua_rawgeti(L, -1, i);
		snprintf(name, sizeof name, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		failed += test_operation(name, FAIL_FROM_K_ON, &passed);
		failed += test_operation(name, FAIL_ONLY_K, &passed);
	}
	lua_close(L);

	printf("alloc: %lu passed, %lu failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
