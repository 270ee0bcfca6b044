# slotgate: `make` builds ./slotgate; `make demo` and `make test` install what is missing first.
# `make SANITIZE=1` builds with AddressSanitizer + UndefinedBehaviorSanitizer into build/asan/.

CC      ?= cc
VERSION := 0.1.0
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE    := -std=c11 -D_GNU_SOURCE -DSLOTGATE_VERSION='"$(VERSION)"' -g $(WARN) -MMD -MP

ifeq ($(SANITIZE),1)
BUILD   := build/asan
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDOPT   := -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
BUILD   := build/tsan
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=thread
LDOPT   := -fsanitize=thread
else
BUILD   := build/release
OPT     := -O2
LDOPT   :=
endif

CFLAGS  += $(BASE) $(OPT) -I$(BUILD)/gen
LIBS     = -lev $(shell pkg-config --libs hiredis jansson libmicrohttpd libssl libcrypto) -luring -lpthread -lm
CHECK    = $(shell pkg-config --libs check)

# The layers, bottom up (docs/architecture.md; scripts/check-layers enforces the includes):
# lib/ knows nothing of Redis; router/ is pure logic; conf/ reads the settings; health/ watches the
# cluster; proxy/ carries the traffic.
LIB_SRC    := $(wildcard lib/*.c)
CORE_SRC   := $(wildcard router/*.c conf/*.c)
HEALTH_SRC := $(wildcard health/*.c)
APP_SRC    := $(wildcard proxy/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
INTG_SRC := $(wildcard tests/integration/*.c)
SUPP_SRC := $(wildcard tests/support/*.c)

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
HEALTH_OBJ := $(HEALTH_SRC:%.c=$(BUILD)/%.o)
APP_OBJ    := $(APP_SRC:%.c=$(BUILD)/%.o)
SUPP_OBJ := $(SUPP_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTG_BIN := $(INTG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
CHAOS_BIN := $(BUILD)/tests/chaos/chaos
SOAK_BIN  := $(BUILD)/tests/chaos/soak

.PHONY: all deps node-deps demo test test-build unit integration check clean format lint bench bench-scale fuzz fuzz-build valgrind chaos soak
all: $(BUILD)/slotgate
ifeq ($(SANITIZE),)
all: slotgate
slotgate: $(BUILD)/slotgate
	@cp $< $@.tmp && mv -f $@.tmp $@
endif

# `make V=1` shows the full compiler command lines.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC    $@")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/slotgate: $(LIB_OBJ) $(CORE_OBJ) $(HEALTH_OBJ) $(APP_OBJ)
	@$(if $(V),,echo "  LINK  $@")
	$(Q)$(CC) $(LDOPT) $^ -o $@ $(LIBS)

# Unit tests link every layer but proxy/: health/ is tested without it.
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIB_OBJ) $(CORE_OBJ) $(HEALTH_OBJ)
	@$(if $(V),,echo "  LINK  $@")
	$(Q)$(CC) $(LDOPT) $^ -o $@ $(LIBS) $(CHECK)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(SUPP_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	@$(if $(V),,echo "  LINK  $@")
	$(Q)$(CC) $(LDOPT) $^ -o $@ $(LIBS) $(CHECK)

$(BUILD)/tests/bench/%: $(BUILD)/tests/bench/%.o $(LIB_OBJ) $(CORE_OBJ)
	@$(if $(V),,echo "  LINK  $@")
	$(Q)$(CC) $(LDOPT) $^ -o $@ $(LIBS)

$(BUILD)/tests/chaos/%: $(BUILD)/tests/chaos/%.o $(SUPP_OBJ) $(LIB_OBJ) $(CORE_OBJ)
	@$(if $(V),,echo "  LINK  $@")
	$(Q)$(CC) $(LDOPT) $^ -o $@ $(LIBS) $(CHECK)

# The dashboard page is compiled in as bytes, so the binary serves it with no file beside it.
$(BUILD)/gen/dashboard.inc: proxy/dashboard.html
	@mkdir -p $(dir $@)
	$(Q)od -An -v -tx1 < $< | sed -E 's/ ([0-9a-f]{2})/0x\1,/g' > $@.tmp && mv -f $@.tmp $@
$(BUILD)/proxy/admin.o: $(BUILD)/gen/dashboard.inc

# Fuzzing (clang's libFuzzer with ASan+UBSan): the request parser, the reply framer, CLUSTER SLOTS and
# the configuration loader. `make fuzz FUZZ_TIME=600` runs each for 10 minutes; make test runs each for
# FUZZ_SHORT seconds.
FUZZ_TIME  ?= 60
FUZZ_SHORT ?= 10
FUZZERS    := request reply slots conf info acl
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) lib/log.c $(wildcard router/*.h conf/*.h lib/*.h)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ  $@")
	$(Q)clang $(FUZZ_FLAGS) $< $(CORE_SRC) lib/log.c -o $@ $(LIBS)

fuzz-build: $(FUZZERS:%=build/fuzz/fuzz_%)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/run-fuzz $(FUZZ_TIME) $(FUZZERS)

# Chaos soak (tests/chaos/chaos.c): `make chaos DURATION=600` against the optimised binary, with the
# memory check; make test runs a CHAOS_SHORT-second one against the sanitizer build.
DURATION    ?= 300
CHAOS_SHORT ?= 40
SOAK_SHORT  ?= 60
chaos: deps
	@$(MAKE) --no-print-directory all $(CHAOS_BIN)
	@CHAOS_SECONDS=$(DURATION) CHAOS_RSS_CHECK=1 TEST_SLOTGATE_BIN=./slotgate scripts/run-tests $(CHAOS_BIN)

# Long-uptime soak (tests/chaos/soak.c): `make soak DURATION=3600` (the default) runs the optimised binary
# in a network namespace of its own while nodes restart on new addresses and the seed name changes.
SOAK_DURATION := $(if $(filter command line environment,$(origin DURATION)),$(DURATION),3600)
soak: deps
	@$(MAKE) --no-print-directory all $(SOAK_BIN)
	@SOAK_SECONDS=$(SOAK_DURATION) TEST_SLOTGATE_BIN=./slotgate scripts/run-tests $(SOAK_BIN)

# slotgate under valgrind's memcheck with a mixed load; fails on any error or leak (scripts/valgrind-check).
valgrind: deps
	@$(MAKE) --no-print-directory all
	@scripts/valgrind-check

# Keep test objects (make would delete them as intermediates and rebuild every time).
.SECONDARY:

deps:
	@scripts/install-deps

# The Node.js clients the integration tests drive (tests/node, test_node.c), at the versions its
# package-lock.json pins; installed again only when the lock file changed.
node-deps:
	@test tests/node/node_modules/.package-lock.json -nt tests/node/package-lock.json || \
		(echo "npm ci --prefix tests/node"; cd tests/node && npm ci --no-audit --no-fund)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

test-build: $(BUILD)/slotgate $(UNIT_BIN) $(INTG_BIN) $(CHAOS_BIN) $(SOAK_BIN)

# Unit tests run in both builds; integration tests drive the sanitizer builds of the real binary, so any
# ASan/UBSan/LeakSanitizer report from slotgate fails them, then once more ThreadSanitizer's (workers, the
# admin thread, the resolver threads and the main loop share counters, mailboxes and the status board).
# The two passes use the two I/O engines: io_uring under ASan+UBSan (where the kernel allows it), epoll
# under TSan, so each engine runs every integration suite.
URING_ENGINE := $(shell [ "$$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] && echo io_uring || echo epoll)
# test_hostile runs again against the optimised binary, where memory returned after a slow consumer is
# disconnected can be measured.
test: deps node-deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory all test-build
	@$(MAKE) --no-print-directory SANITIZE=1 test-build
	@$(MAKE) --no-print-directory SANITIZE=thread build/tsan/slotgate
	@$(MAKE) --no-print-directory fuzz-build
	@echo "== unit suites, then the integration suites with io-engine $(URING_ENGINE)"
	@SLOTGATE_IO_ENGINE=$(URING_ENGINE) TEST_SLOTGATE_BIN=build/asan/slotgate scripts/run-tests \
		build/release/tests/unit/* build/asan/tests/unit/* build/asan/tests/integration/*
	@echo "== the integration suites again, slotgate built with ThreadSanitizer, with io-engine epoll"
	@SLOTGATE_IO_ENGINE=epoll TEST_SLOTGATE_BIN=build/tsan/slotgate scripts/run-tests build/asan/tests/integration/*
	@TEST_RSS_CHECK=1 TEST_SLOTGATE_BIN=./slotgate scripts/run-tests build/release/tests/integration/test_hostile
	@scripts/run-fuzz $(FUZZ_SHORT) $(FUZZERS)
	@CHAOS_SECONDS=$(CHAOS_SHORT) TEST_SLOTGATE_BIN=build/asan/slotgate scripts/run-tests build/asan/tests/chaos/chaos
	@SOAK_SECONDS=$(SOAK_SHORT) TEST_SLOTGATE_BIN=./slotgate scripts/run-tests build/release/tests/chaos/soak

unit: test-build
	@scripts/run-tests $(UNIT_BIN)

# The edit loop, under a minute: the layers and cppcheck, every unit suite (ASan+UBSan build) and each
# fuzzer for CHECK_FUZZ seconds. make test is what CI runs.
CHECK_FUZZ ?= 4
check:
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory SANITIZE=1 $(UNIT_SRC:tests/unit/%.c=build/asan/tests/unit/%)
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/run-tests build/asan/tests/unit/*
	@scripts/run-fuzz $(CHECK_FUZZ) $(FUZZERS)

integration: test-build node-deps
	@TEST_SLOTGATE_BIN=$(BUILD)/slotgate scripts/run-tests $(INTG_BIN)

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h)

# The layers hold (scripts/check-layers), and cppcheck finds nothing. make test runs it first.
lint:
	@mkdir -p build
	@scripts/check-layers
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 -D_GNU_SOURCE \
		--suppress=missingIncludeSystem lib router conf health proxy && echo "cppcheck: no finding"

clean:
	rm -rf build slotgate

-include $(shell find build -name '*.d' 2>/dev/null)

# Benchmarks: an optimised build measured beside the cluster itself, in one run (see scripts/bench).
bench:
	@scripts/install-deps nutcracker
	@$(MAKE) --no-print-directory all build/release/tests/bench/loadgen
	@scripts/bench

# Memory and scaling: idle clients, a 64 MiB value, pipeline depths, one-client latency, 3 vs 32
# masters, and a callgrind instruction count per GET (see scripts/bench-scale).
bench-scale: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench-scale
