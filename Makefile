# Build, run and test msgraph-migration in the source tree.
#
#   make         build the C module into build/
#   make run     print the job report for the bundled sample page
#   make test    run the busted specs against the in-tree build
#
# Each target first checks the Debian packages it needs (see deps below).

LUA      ?= lua5.4
CC       ?= cc
PKGS     := lua5.4 yajl
CFLAGS   ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -Werror -pedantic
CPPFLAGS += -D_POSIX_C_SOURCE=200809L $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs yajl 2>/dev/null)

SRC      := $(wildcard src/*.c)
HDR      := $(wildcard src/*.h)
MODULE   := build/msgraph/migration/core.so

# Lua finds the in-tree Lua layer and C module through these two paths.
export LUA_PATH_5_4  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH_5_4 := $(CURDIR)/build/?.so;;

# Debian packages every target needs; DEPS_EXTRA adds those of one target.
DEBIAN_PACKAGES := gcc make pkg-config lua5.4 liblua5.4-dev libyajl-dev lua-cjson \
                   lua-busted lua-socket lua-sec openssl

.PHONY: all run test deps clean

all: $(MODULE)

$(MODULE): $(SRC) $(HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

run: $(MODULE)
	$(LUA) examples/job-report.lua examples/data/sample-page.json

test: $(MODULE)
	$(LUA) $$(command -v busted) --lua=$(LUA)

deps:
	@sh .ci/debian-deps $(DEBIAN_PACKAGES) $(DEPS_EXTRA)

clean:
	rm -rf build

# ---------------------------------------------------------------------------
# Hardening: sanitizers, valgrind, allocation failure, fuzzing and linters.
#
#   make test-asan      the busted suite against the module built with ASan and UBSan
#   make test-valgrind  the busted suite under valgrind memcheck
#   make test-alloc     spec/alloc: each operation with its k-th allocation failing, for every k
#   make fuzz           each libFuzzer target for FUZZ_SECONDS seconds (default 60)
#   make fuzz-replay    the saved corpus and every reproducer in fuzz/regressions/
#   make lint           clang-tidy, cppcheck and luacheck
#
# The suite runs in one lua5.4 process (busted --ignore-lua) so that the
# sanitizer runtime and valgrind see the specs themselves, not a re-executed
# child. Processes that the specs start inherit LD_PRELOAD under test-asan, but
# valgrind does not follow them.

SAN_CC       ?= clang
SAN_CFLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all
SAN_WARN     := $(filter-out -Werror,$(WARN))
SAN_PACKAGES := clang libclang-rt-14-dev
ASAN_MODULE  := build/asan/msgraph/migration/core.so
ASAN_RUNTIME  = $(shell $(SAN_CC) -print-file-name=libclang_rt.asan-x86_64.so)
ASAN_OPTIONS_ALL := detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
UBSAN_OPTIONS_ALL := halt_on_error=1:print_stacktrace=1
SUITE        := $(LUA) $$(command -v busted) --ignore-lua

VALGRIND       ?= valgrind
VALGRIND_FLAGS := --tool=memcheck --error-exitcode=99 --leak-check=full \
                  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --quiet

ALLOC_BIN    := build/alloc/alloc_fail

FUZZ_TARGETS := decode decode_page page_decoder
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
FUZZ_BINS    := $(FUZZ_TARGETS:%=build/fuzz/fuzz-%)
FUZZ_ENV     := ASAN_OPTIONS=$(ASAN_OPTIONS_ALL) UBSAN_OPTIONS=$(UBSAN_OPTIONS_ALL)
LUA_LIBS     := $(shell pkg-config --libs lua5.4 2>/dev/null)

LINT_PACKAGES := clang-tidy cppcheck lua-check
LINT_C        := $(SRC) fuzz/harness.c spec/alloc/alloc_fail.c

.PHONY: test-asan test-valgrind test-alloc fuzz fuzz-corpus fuzz-replay \
        lint lint-clang-tidy lint-cppcheck lint-luacheck

$(ASAN_MODULE): DEPS_EXTRA = $(SAN_PACKAGES)
$(ASAN_MODULE): $(SRC) $(HDR) | deps
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_WARN) $(CPPFLAGS) $(SAN_CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

# LUA_CPATH_5_4 and --cpath both point at the sanitized build, so neither the
# specs nor the programs they start can load build/msgraph/migration/core.so.
test-asan: $(ASAN_MODULE)
	LD_PRELOAD=$(ASAN_RUNTIME) ASAN_OPTIONS=$(ASAN_OPTIONS_ALL) UBSAN_OPTIONS=$(UBSAN_OPTIONS_ALL) \
	LUA_CPATH_5_4='$(CURDIR)/build/asan/?.so;;' \
	$(SUITE) --cpath='$(CURDIR)/build/asan/?.so'

test-valgrind: DEPS_EXTRA = valgrind
test-valgrind: $(MODULE)
	$(VALGRIND) $(VALGRIND_FLAGS) $(SUITE)

$(ALLOC_BIN): DEPS_EXTRA = $(SAN_PACKAGES)
$(ALLOC_BIN): spec/alloc/alloc_fail.c $(SRC) $(HDR) | deps
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_WARN) $(CPPFLAGS) $(SAN_CFLAGS) -o $@ spec/alloc/alloc_fail.c $(SRC) \
		$(LDFLAGS) $(LDLIBS) $(LUA_LIBS)

# alloc_fail runs a LeakSanitizer check after every run, and each check walks
# the ASan quarantine too. An 8 MB quarantine keeps the test at about 9 s; the
# default 256 MB took about 50 s (both measured on a 2-core, 24 GiB machine).
test-alloc: $(ALLOC_BIN)
	ASAN_OPTIONS=$(ASAN_OPTIONS_ALL):quarantine_size_mb=8 UBSAN_OPTIONS=$(UBSAN_OPTIONS_ALL) \
		$(ALLOC_BIN) $(CURDIR)

build/fuzz/fuzz-%: DEPS_EXTRA = $(SAN_PACKAGES)
build/fuzz/fuzz-%: fuzz/harness.c $(SRC) $(HDR) | deps
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_WARN) $(CPPFLAGS) $(FUZZ_CFLAGS) -DFUZZ_TARGET='"$*"' \
		-DFUZZ_SOURCE_ROOT='"$(CURDIR)"' -o $@ fuzz/harness.c $(SRC) $(LDFLAGS) $(LDLIBS) $(LUA_LIBS)

# The working corpus of each target: the committed seeds plus the JSON files
# of spec/fixtures and examples/data. libFuzzer adds what it finds here.
fuzz-corpus:
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$target build/fuzz/crashes; \
		cp -f fuzz/corpus/$$target/* build/fuzz/corpus/$$target/; \
		for seed in $(wildcard spec/fixtures/*.json examples/data/*.json); do \
			cp -f $$seed build/fuzz/corpus/$$target/; \
		done; \
	done

fuzz: $(FUZZ_BINS) fuzz-corpus
	@status=0; \
	for target in $(FUZZ_TARGETS); do \
		echo "fuzz: $$target for $(FUZZ_SECONDS) s"; \
		$(FUZZ_ENV) build/fuzz/fuzz-$$target -max_total_time=$(FUZZ_SECONDS) \
			-max_len=$(FUZZ_MAX_LEN) -timeout=10 -dict=fuzz/json.dict \
			-artifact_prefix=build/fuzz/crashes/$$target- -print_final_stats=1 \
			build/fuzz/corpus/$$target || { echo "fuzz: $$target FAILED"; status=1; }; \
	done; \
	exit $$status

# Every reproducer in fuzz/regressions/ goes through every target, because a
# crash found by one target is a valid input for the others.
fuzz-replay: $(FUZZ_BINS)
	@status=0; \
	regressions=$$(find fuzz/regressions -type f ! -name '*.md' | sort); \
	for target in $(FUZZ_TARGETS); do \
		echo "fuzz-replay: $$target, corpus"; \
		$(FUZZ_ENV) build/fuzz/fuzz-$$target -runs=0 -artifact_prefix=build/fuzz/replay- \
			fuzz/corpus/$$target || \
			{ echo "fuzz-replay: $$target FAILED on fuzz/corpus/$$target"; status=1; }; \
		for file in $$regressions; do \
			$(FUZZ_ENV) build/fuzz/fuzz-$$target -artifact_prefix=build/fuzz/replay- \
				$$file >build/fuzz/replay.log 2>&1 || \
				{ cat build/fuzz/replay.log; echo "fuzz-replay: $$target FAILED on $$file"; status=1; }; \
		done; \
	done; \
	exit $$status

# `make -k lint` runs all three linters even when one fails.
# clang-tidy runs on one file at a time: clang-tidy 14, given several files,
# reported a false clang-analyzer-valist.Uninitialized in the second one.
# cppcheck reads the project headers through -Isrc and knows the Lua API and
# POSIX from its own library files, not from the system headers. Its lua.cfg
# checks lua_pushfstring like printf, which has no %I (lua_Integer), so
# invalidLengthModifierError is suppressed.
lint: lint-clang-tidy lint-cppcheck lint-luacheck

lint-clang-tidy lint-cppcheck lint-luacheck: DEPS_EXTRA = $(LINT_PACKAGES)

lint-clang-tidy: | deps
	@status=0; \
	for file in $(LINT_C); do \
		echo "clang-tidy $$file"; \
		clang-tidy --quiet $$file -- -std=c99 $(CPPFLAGS) -DFUZZ_TARGET='"decode"' || status=1; \
	done; \
	exit $$status

lint-cppcheck: | deps
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
		--quiet --std=c99 --library=lua --library=posix --suppress=missingIncludeSystem \
		--suppress=invalidLengthModifierError \
		-Isrc -D_POSIX_C_SOURCE=200809L -DFUZZ_TARGET='"decode"' $(LINT_C)

lint-luacheck: | deps
	luacheck .

# ---------------------------------------------------------------------------
# Benchmarks. BENCHMARKS.md records the figures and the machine.
#
#   make bench         generate a 100,000-event page and a 100-event page, then
#                      compare decode, encode, memory, field reads and end to end
#                      with lua-cjson, dkjson, a bare YAJL scan and the Graph SDK
#   make bench-stream  peak RSS of page_decoder() over a generated 1 GiB page
#                      (writes the page to build/bench first, about 1 GiB of disk)
#   make bench-profile callgrind instruction counts per event on a 10,000-event
#                      page, which stay comparable when the machine is busy
#
# The Graph SDK comparison needs node and npm. npm installs the packages that
# bench/node/package-lock.json pins into bench/node/node_modules.

BENCH_DIR         := build/bench
BENCH_PAGE        := $(BENCH_DIR)/page-100k.json
BENCH_SMALL_PAGE  := $(BENCH_DIR)/page-small.json
BENCH_STREAM_PAGE := $(BENCH_DIR)/page-1g.json
BENCH_PROFILE_PAGE := $(BENCH_DIR)/page-10k.json
YAJL_FLOOR        := $(BENCH_DIR)/yajl_floor.so
BENCH_PACKAGES    := lua-dkjson lua-lpeg time

.PHONY: bench bench-stream bench-profile

$(YAJL_FLOOR): DEPS_EXTRA = $(BENCH_PACKAGES)
$(YAJL_FLOOR): bench/yajl_floor.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BENCH_PAGE): bench/generate.lua
	@mkdir -p $(dir $@)
	$(LUA) bench/generate.lua --events 100000 $@

$(BENCH_SMALL_PAGE): bench/generate.lua
	@mkdir -p $(dir $@)
	$(LUA) bench/generate.lua --events 100 --seed 7 $@

$(BENCH_PROFILE_PAGE): bench/generate.lua
	@mkdir -p $(dir $@)
	$(LUA) bench/generate.lua --events 10000 $@

$(BENCH_STREAM_PAGE): bench/generate.lua
	@mkdir -p $(dir $@)
	$(LUA) bench/generate.lua --bytes 1G $@

bench/node/node_modules: bench/node/package.json bench/node/package-lock.json
	@command -v npm >/dev/null || sh .ci/debian-deps nodejs npm
	cd bench/node && npm install --no-audit --no-fund
	@touch $@

bench: DEPS_EXTRA = $(BENCH_PACKAGES)
bench: $(MODULE) $(YAJL_FLOOR) $(BENCH_PAGE) $(BENCH_SMALL_PAGE) bench/node/node_modules
	$(LUA) bench/run.lua --page $(BENCH_PAGE) --small $(BENCH_SMALL_PAGE) \
		--results $(BENCH_DIR)/results-lua.txt
	node bench/node/kiota-bench.mjs $(BENCH_PAGE) $(BENCH_DIR)/results-lua.txt \
		$(BENCH_DIR)/results-node.txt
	@$(LUA) bench/summary.lua $(BENCH_DIR)/results-lua.txt $(BENCH_DIR)/results-node.txt

# GNU time reports the peak RSS. The first run only loads the module, as a baseline.
bench-stream: DEPS_EXTRA = $(BENCH_PACKAGES)
bench-stream: $(MODULE) $(BENCH_STREAM_PAGE)
	@/usr/bin/time -v $(LUA) -e 'require "msgraph.migration"' 2> $(BENCH_DIR)/stream-baseline.txt || \
		{ cat $(BENCH_DIR)/stream-baseline.txt; exit 1; }
	@/usr/bin/time -v $(LUA) bench/stream.lua $(BENCH_STREAM_PAGE) 2> $(BENCH_DIR)/stream-time.txt || \
		{ cat $(BENCH_DIR)/stream-time.txt; exit 1; }
	@ls -l $(BENCH_STREAM_PAGE)
	@echo "peak RSS, module loaded only:" $$(sed -n 's/.*Maximum resident set size (kbytes): //p' \
		$(BENCH_DIR)/stream-baseline.txt) KiB
	@echo "peak RSS, page_decoder over the page in 64 KiB chunks:" $$(sed -n \
		's/.*Maximum resident set size (kbytes): //p' $(BENCH_DIR)/stream-time.txt) KiB

bench-profile: DEPS_EXTRA = $(BENCH_PACKAGES) valgrind
bench-profile: $(MODULE) $(YAJL_FLOOR) $(BENCH_PROFILE_PAGE)
	$(LUA) bench/profile.lua $(BENCH_PROFILE_PAGE)
