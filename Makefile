# moetrain — pure C11 training framework (libc, libm, pthreads; Check for tests).
#   make            the fast `train` binary (-O3, no -ffast-math; SIMD chosen at run time)
#   make MPI=1      the same `train` on MPI (mpicc; Open MPI: libopenmpi-dev openmpi-bin) for
#                   data-parallel runs: mpirun -np R ./train train ... (docs/scaling.md)
#   make test       float + double (gradient-check) test builds; installs Check if missing
#   make sanitize   the tests under ASan + UBSan (-O1): slower, catches memory bugs
#   make bench      GEMM / training-step benchmarks as JSON lines
#   make bench-compare  every training-step mode, ours vs PyTorch, into README.md's Speed section
#   make static     one statically linked binary for any x86-64 Linux
#   make cross-test aarch64 cross build of the float tests, run under qemu-user
#   make fuzz       every parser under ASan + UBSan with mutated inputs (FUZZ_ITERS=N per target),
#                   after replaying the regression inputs in tests/fuzz/regress/
#   make loc        files over 400 lines and functions over 60 lines
#   make layers     the include rule between folders, and that the library never prints
#   make docs-check every command of README.md and docs/*.md, run from a clean clone
#   make clean
CC      ?= cc
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O3 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -I. $(WARN)
LDLIBS   = -lm -pthread
# tensor/comm.h has two implementations: comm_single.c (default, and every test build) and
# comm_mpi.c (MPI=1, compiled and linked with mpicc); the library sources name neither.
MPI     ?= 0
MPICC   ?= mpicc
LIB_ALL  = $(wildcard tensor/*.c autograd/*.c autograd/ops/*.c data/*.c nn/*.c optim/*.c)
LIB_SRC  = $(filter-out tensor/comm_mpi.c,$(LIB_ALL))
LIB_MPI  = $(filter-out tensor/comm_single.c,$(LIB_ALL))
CLI_SRC  = $(wildcard cli/*.c bench/*.c)
TEST_SRC = $(filter-out tests/fuzz/%,$(wildcard tests/*.c tests/*/*.c))
FUZZ_SRC = $(wildcard tests/fuzz/*.c) tests/support/train_fixture.c tests/support/model_fixtures.c tests/support/helpers.c
FUZZ_ITERS ?= 1000
APP_SRC  = train.c $(CLI_SRC)

obj = $(patsubst %.c,build/$(1)/%.o,$(2))

CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)

.PHONY: all test sanitize fuzz bench bench-compare static cross-test cross-deps loc layers docs-check clean check-deps

all: train

# build/comm-mode holds the MPI setting of the last build, so switching MPI=0/1 relinks ./train
$(shell mkdir -p build; [ "$$(cat build/comm-mode 2>/dev/null)" = "$(MPI)" ] || echo "$(MPI)" > build/comm-mode)
ifeq ($(MPI),1)
train: $(call obj,f32,$(APP_SRC) $(LIB_MPI)) build/comm-mode
	$(MPICC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)
else
train: $(call obj,f32,$(APP_SRC) $(LIB_SRC)) build/comm-mode
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)
endif
# the MPI binary of the data-parallel test (tests/cli/test_mpi.c), whatever MPI says; `make test`
# builds it when mpicc exists
build/train_mpi: $(call obj,f32,$(APP_SRC) $(LIB_MPI))
	$(MPICC) $(CFLAGS) -o $@ $^ $(LDLIBS)
build/f32/tensor/comm_mpi.o: tensor/comm_mpi.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -MMD -MP -c $< -o $@

# AdamW's loop vectorises only when sqrtf sets no errno (its argument is never negative)
build/f32/optim/adamw.o build/f64/optim/adamw.o: CFLAGS += -fno-math-errno

build/f32/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
build/f64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DREAL=double -MMD -MP -c $< -o $@
build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -DMOETRAIN_GRAD_POISON -I. $(WARN) -O1 -g -Ibuild/gen -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -MMD -MP -c $< -o $@

# Check is the one test dependency: install it (Debian) when pkg-config cannot find it.
check-deps:
	@pkg-config --exists check 2>/dev/null || { \
	  echo "installing check + pkg-config with apt-get"; \
	  { apt-get update -qq && apt-get install -y -qq check pkg-config; } >/dev/null || \
	  { echo "error: cannot install Check (need root + apt); install 'check' and 'pkg-config'"; exit 1; }; }

build/tests_f32: $(call obj,f32,$(TEST_SRC) $(CLI_SRC) $(LIB_SRC)) | check-deps
	$(CC) $(CFLAGS) -o $@ $^ $$(pkg-config --libs check) $(LDLIBS)
build/tests_f64: $(call obj,f64,$(TEST_SRC) $(CLI_SRC) $(LIB_SRC)) | check-deps
	$(CC) $(CFLAGS) -o $@ $^ $$(pkg-config --libs check) $(LDLIBS)
build/tests_asan: $(call obj,asan,$(TEST_SRC) $(CLI_SRC) $(LIB_SRC)) | check-deps
	$(CC) -fsanitize=address,undefined -o $@ $^ $$(pkg-config --libs check) $(LDLIBS)

# test objects need Check's headers and the generated suite list
SUITES_LIST = build/gen/suites_list.h
$(SUITES_LIST): $(TEST_SRC)
	@mkdir -p $(dir $@)
	@{ printf '#define ALL_SUITES(X) \\\n'; \
	   sed -n 's/^Suite \*\([a-z_0-9]*_suite\)(void).*/    X(\1) \\/p' $(TEST_SRC); echo; } > $@.tmp && mv $@.tmp $@
TEST_OBJ_ALL = $(call obj,f32,$(TEST_SRC)) $(call obj,f64,$(TEST_SRC)) $(call obj,asan,$(TEST_SRC)) $(call obj,cross,$(TEST_SRC))
$(TEST_OBJ_ALL): CFLAGS += $(CHECK_CFLAGS) -Ibuild/gen
$(TEST_OBJ_ALL): $(SUITES_LIST) | check-deps

test: check-deps layers
	@$(MAKE) --no-print-directory build/tests_f32 build/tests_f64
	@if command -v $(MPICC) >/dev/null 2>&1; then $(MAKE) --no-print-directory build/train_mpi; \
	 else echo "note: no $(MPICC): the data-parallel test will skip (apt-get install libopenmpi-dev openmpi-bin)"; fi
	./build/tests_f32
	./build/tests_f64

sanitize: check-deps
	@$(MAKE) --no-print-directory build/tests_asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/tests_asan

# the fuzz driver (tests/fuzz/fuzz.h): a crash stops it with the input left in build/fuzz/work/;
# shrink it with ./build/fuzz/fuzz --minimise TARGET FILE tests/fuzz/regress/TARGET/NAME
build/fuzz/fuzz: $(call obj,asan,$(FUZZ_SRC) $(CLI_SRC) $(LIB_SRC)) | check-deps
	@mkdir -p build/fuzz
	$(CC) -fsanitize=address,undefined -o $@ $^ $$(pkg-config --libs check) $(LDLIBS)
$(call obj,asan,$(FUZZ_SRC)): CFLAGS += $(CHECK_CFLAGS)
$(call obj,asan,$(FUZZ_SRC)): $(SUITES_LIST) | check-deps

FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fuzz: check-deps
	@$(MAKE) --no-print-directory build/fuzz/fuzz
	$(FUZZ_ENV) ./build/fuzz/fuzz --replay tests/fuzz/regress
	$(FUZZ_ENV) ./build/fuzz/fuzz --iters $(FUZZ_ITERS)

bench: train
	./train bench --json

# every training-step mode, ours next to PyTorch (when installed), into README.md's Speed section
bench-compare: train
	sh bench/compare.sh

static: $(call obj,f32,$(APP_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) -static -o train-static $^ $(LDLIBS)
	@echo "built ./train-static (statically linked; SIMD level chosen at run time)"

# aarch64 cross build of the float tests, run under qemu-user: proof that only the SIMD dispatch
# files know about x86. Installs the cross compiler, qemu-user and Check for arm64 if missing.
# Linked statically: qemu-user 7.2 deadlocks dynamically linked threaded guests here.
CROSS_CC = aarch64-linux-gnu-gcc
build/cross/%.o: %.c
	@mkdir -p $(dir $@)
	$(CROSS_CC) -std=c11 -D_GNU_SOURCE -I. $(WARN) -O2 -Ibuild/gen -MMD -MP -c $< -o $@
build/tests_cross: $(call obj,cross,$(TEST_SRC) $(CLI_SRC) $(LIB_SRC))
	$(CROSS_CC) -static -o $@ $^ -lcheck_pic -lsubunit -lrt -lm -pthread
cross-deps:
	@if ! command -v $(CROSS_CC) >/dev/null || ! command -v qemu-aarch64 >/dev/null || \
	    [ ! -f /usr/lib/aarch64-linux-gnu/libcheck_pic.a ] && [ ! -f /usr/lib/aarch64-linux-gnu/libcheck.so ]; then \
	  echo "installing gcc-aarch64-linux-gnu, qemu-user and check:arm64 with apt-get"; \
	  dpkg --add-architecture arm64 && apt-get update -qq && \
	  apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user check:arm64 libsubunit-dev:arm64 >/dev/null; fi
cross-test: cross-deps
	@$(MAKE) --no-print-directory build/tests_cross
	qemu-aarch64 ./build/tests_cross

loc:
	@./tests/support/loc_budget.sh 400 60

# README "Layout": includes point one way (tensor <- autograd, data <- nn <- optim <- cli <- train.c),
# and nothing in tensor/ autograd/ data/ nn/ optim/ prints or exits
layers:
	@./tests/support/layers.sh && echo "layers: every include follows the rule; the library does not print"

# README.md and docs/*.md: every command block, run in a fresh clone with ../shared beside it; fails
# on the first non-zero exit (long examples are skipped: tests/support/docs_check.sh says how)
docs-check:
	@./tests/support/docs_check.sh

clean:
	rm -rf build train train-static

-include $(shell find build -name '*.d' 2>/dev/null)
