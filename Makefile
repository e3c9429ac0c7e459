# librnnplast — see README.md.  `make check`, `make demo` and the other jobs
# install the Debian packages they need first (scripts/install-deps.sh PROFILE:
# each its own profile), then build in a sub-make so that pkg-config is read
# after the install.

VERSION_MAJOR := $(shell sed -n 's/^\#define RP_VERSION_MAJOR \([0-9]*\).*/\1/p' include/rnnplast.h)
VERSION_MINOR := $(shell sed -n 's/^\#define RP_VERSION_MINOR \([0-9]*\).*/\1/p' include/rnnplast.h)
VERSION_PATCH := $(shell sed -n 's/^\#define RP_VERSION_PATCH \([0-9]*\).*/\1/p' include/rnnplast.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/rnnplast
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror
STD := -std=c11 -D_POSIX_C_SOURCE=200809L
DEP_PKGS := openblas lapacke
DEP_CFLAGS = $(shell pkg-config --cflags $(DEP_PKGS) 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
DEP_LIBS = $(shell pkg-config --libs $(DEP_PKGS) 2>/dev/null || echo -lopenblas -llapacke) -lz -lm
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread) -lm
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) -Iinclude $(DEP_CFLAGS)

B := build
SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS))
STATIC := $(B)/librnnplast.a
SONAME := librnnplast.so.$(VERSION_MAJOR)
SHARED := $(B)/librnnplast.so.$(VERSION)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BIN := $(B)/tests/check_rnnplast
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))
BENCH_SRCS := $(sort $(filter-out bench/alloc_check.c,$(wildcard bench/*.c)))
BENCHES := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
TOOL_SRCS := $(wildcard tools/*.c)
TOOL := $(if $(TOOL_SRCS),$(B)/rnnplast)

.PHONY: all lib deps check check-run demo demo-run docs bench bench-run bench-extra bench-alloc install uninstall \
        clean check-valgrind check-valgrind-run check-asan examples tool man check-install \
        abi-check abi-check-run abi-baseline abi-baseline-run

all: lib examples tool

lib: $(STATIC) $(SHARED) $(B)/rnnplast_cdef.h

# The header's declarations for foreign-function tools (Python's cffi cdef):
# preprocessed with RP_CDEF (no system headers, no attributes), plus the
# integer constants (rnnplast.h's opening comment).
$(B)/rnnplast_cdef.h: include/rnnplast.h
	@mkdir -p $(@D)
	{ $(CC) -E -P -DRP_CDEF include/rnnplast.h && \
	  sed -n 's/^\(#define RP_[A-Z_]*\) \([0-9][0-9]*\)\b.*/\1 \2/p' include/rnnplast.h; } > $@.tmp
	@mv $@.tmp $@

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) include/rnnplast.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(STATIC): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(OBJS) librnnplast.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=librnnplast.map $(LDFLAGS) \
	    -o $@ $(OBJS) $(DEP_LIBS)
	ln -sf librnnplast.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $(B)/librnnplast.so

# Example programs, benchmarks and the tool use the public header only.
$(B)/examples/%: examples/%.c examples/common.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(STATIC) $(DEP_LIBS)

$(B)/bench/%: bench/%.c bench/bench_util.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(STATIC) $(DEP_LIBS) -lpthread

examples: $(EXAMPLES)

tool: $(TOOL)

$(B)/rnnplast: $(TOOL_SRCS) $(wildcard tools/*.h) $(STATIC)
	$(CC) $(ALL_CFLAGS) $(TOOL_SRCS) -o $@ $(STATIC) $(DEP_LIBS) -lpthread

# One runner with every suite: each tests/test_X.c defines `Suite *suite_X(void)`;
# the list is generated so that adding a file is all it takes.
$(B)/tests/suites.h: $(TEST_SRCS)
	@mkdir -p $(@D)
	@{ for f in $(TEST_SRCS); do sed -n 's/^Suite \*\(suite_[a-z0-9_]*\)(void).*/RP_SUITE(\1)/p' $$f; done; } > $@.tmp
	@mv $@.tmp $@

$(TEST_BIN): tests/check_main.c $(TEST_SRCS) $(wildcard tests/*.h) $(B)/tests/suites.h $(STATIC)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(B)/tests -Isrc tests/check_main.c $(TEST_SRCS) \
	    -o $@ $(STATIC) $(CHECK_LIBS) $(DEP_LIBS)

# `make deps` installs every job's packages; `make deps-PROFILE` one job's
# (profiles: sh scripts/install-deps.sh --list).
deps:
	@sh scripts/install-deps.sh all

deps-%:
	@sh scripts/install-deps.sh $*

# Check's default of 4 s a test is too tight for a loaded or sanitized run:
# tests without a timeout of their own get 60 s.
# The examples run first (they must exit 0), the Check runner last, so the
# final line is Check's summary.
check: deps-check
	@$(MAKE) --no-print-directory check-run

check-run: all $(TEST_BIN)
	@for e in $(EXAMPLES); do \
	    printf 'example %s ... ' "$$e"; \
	    if $$e > $$e.out 2>&1; then echo ok; else echo FAILED; cat $$e.out; exit 1; fi; \
	done
	@$(if $(TOOL),sh tests/tool_smoke.sh $(TOOL) && sh tests/tool_hostile.sh $(TOOL) && sh tests/tool_cli.sh $(TOOL) &&) true
	@sh tests/install_smoke.sh
	@CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" DEP_CFLAGS="$(DEP_CFLAGS)" DEP_LIBS="$(DEP_LIBS)" \
	    sh tests/config_abi.sh $(STATIC)
	@sh tests/cdef_check.sh $(B)/rnnplast_cdef.h $(SHARED)
	@CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-60} $(TEST_BIN)

check-valgrind: deps-valgrind
	@$(MAKE) --no-print-directory check-valgrind-run

check-valgrind-run: all $(TEST_BIN)
	CK_FORK=no RP_SLOW_TESTS=0 valgrind --error-exitcode=1 --leak-check=full -q $(TEST_BIN)

check-asan: deps-asan
	$(MAKE) --no-print-directory B=build-asan CC=clang \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" \
	    DEP_LIBS="$(DEP_LIBS) -fsanitize=address,undefined" check-run

demo: deps-demo
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@if [ -n "$(TOOL)" ] && [ -f scripts/demo.sh ]; then sh scripts/demo.sh $(TOOL); \
	 else $(B)/examples/01_simulate; fi

bench: deps-bench
	@$(MAKE) --no-print-directory bench-run

# One suite, one table per thread count, one CSV written fresh (bench/results.csv):
# 1 thread first (what small nets should use), then 2.  The other programs in
# bench/ (e.g. bench_floss's local/exact cosines) run with `make bench-extra`
# (their CSV rows, another schema, go to $(B)/bench/extra.csv).
bench-run: $(BENCHES)
	OPENBLAS_NUM_THREADS=1 $(B)/bench/bench_suite
	OPENBLAS_NUM_THREADS=2 $(B)/bench/bench_suite --append

# Allocation count of the hot paths after warm-up (all 0 expected).
bench-alloc: $(STATIC)
	@mkdir -p $(B)/bench
	$(CC) $(ALL_CFLAGS) -Wno-unused-result bench/alloc_check.c -o $(B)/bench/alloc_check $(STATIC) \
	    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc $(DEP_LIBS)
	OPENBLAS_NUM_THREADS=1 $(B)/bench/alloc_check

bench-extra: $(BENCHES)
	@for b in $(filter-out $(B)/bench/bench_suite,$(BENCHES)); do \
	    RP_BENCH_CSV=$(B)/bench/extra.csv $$b || exit 1; done

docs: deps-docs
	@mkdir -p $(B)/docs
	@doxygen docs/Doxyfile > $(B)/docs/doxygen.log 2> $(B)/docs/doxygen.warn; \
	 if [ -s $(B)/docs/doxygen.warn ]; then cat $(B)/docs/doxygen.warn; exit 1; fi; \
	 echo "docs: $(B)/docs/html/index.html"

# Regenerated on every install: PREFIX and LIBDIR may differ between runs.
$(B)/rnnplast.pc: rnnplast.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# The CMake package: rnnplast::rnnplast (the shared library) and
# rnnplast::rnnplast_static (the archive, with its link dependencies), found by
# find_package(rnnplast 1.0); any 1.x satisfies a request for 1.y <= x.
SIZEOF_VOID_P := $(shell echo $$(( $$(getconf LONG_BIT) / 8 )))
CMAKE_DEP_DIRS = $(patsubst -L%,%,$(filter -L%,$(DEP_LIBS)))
CMAKE_DEP_LIBS = $(patsubst -l%,%,$(filter -l%,$(DEP_LIBS)))
$(B)/cmake/rnnplastConfig.cmake $(B)/cmake/rnnplastConfigVersion.cmake: $(B)/cmake/%: cmake/%.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g' -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g' \
	    -e 's|@DEP_DIRS@|$(strip $(CMAKE_DEP_DIRS))|g' -e 's|@DEP_LIBS@|$(strip $(CMAKE_DEP_LIBS))|g' $< > $@

# The man page, generated from the tool's own --help (the option tables of
# tools/), so it lists every subcommand and flag the tool accepts.
man: $(if $(TOOL),$(B)/rnnplast.1)

$(B)/rnnplast.1: $(TOOL) scripts/gen-man.sh
	sh scripts/gen-man.sh $(TOOL) $(VERSION) > $@.tmp && mv $@.tmp $@

install: lib $(TOOL) $(B)/rnnplast.pc $(B)/cmake/rnnplastConfig.cmake $(B)/cmake/rnnplastConfigVersion.cmake man
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	install -m 644 include/rnnplast.h $(DESTDIR)$(INCLUDEDIR)/rnnplast.h
	install -m 644 $(B)/rnnplast_cdef.h $(DESTDIR)$(INCLUDEDIR)/rnnplast_cdef.h
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/librnnplast.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/librnnplast.so.$(VERSION)
	ln -sf librnnplast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/librnnplast.so
	install -m 644 $(B)/rnnplast.pc $(DESTDIR)$(PKGCONFIGDIR)/rnnplast.pc
	install -m 644 $(B)/cmake/rnnplastConfig.cmake $(B)/cmake/rnnplastConfigVersion.cmake $(DESTDIR)$(CMAKEDIR)/
	$(if $(TOOL),install -d $(DESTDIR)$(BINDIR) && install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/rnnplast)
	$(if $(TOOL),install -d $(DESTDIR)$(MANDIR)/man1 && install -m 644 $(B)/rnnplast.1 $(DESTDIR)$(MANDIR)/man1/rnnplast.1)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/rnnplast.h $(DESTDIR)$(INCLUDEDIR)/rnnplast_cdef.h \
	    $(DESTDIR)$(LIBDIR)/librnnplast.a \
	    $(DESTDIR)$(LIBDIR)/librnnplast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/librnnplast.so $(DESTDIR)$(PKGCONFIGDIR)/rnnplast.pc \
	    $(DESTDIR)$(CMAKEDIR)/rnnplastConfig.cmake $(DESTDIR)$(CMAKEDIR)/rnnplastConfigVersion.cmake \
	    $(DESTDIR)$(BINDIR)/rnnplast $(DESTDIR)$(MANDIR)/man1/rnnplast.1
	-rmdir $(DESTDIR)$(CMAKEDIR) 2> /dev/null

# Programs built against the installed library alone (pkg-config, shared and
# static; CMake find_package), the exported symbols, the installed man page
# against --help, and a clean uninstall.  `make check` runs it too.
check-install: deps-embed
	@sh tests/install_smoke.sh

# ---- ABI ----
# `make abi-check`: the shared library (built with -g, as by default) dumped
# with abidw and compared by abidiff with the committed baseline of this
# major version; an addition passes, a removal or change fails (policy:
# docs/CHANGES.md; scripts/abi.sh).  `make abi-baseline` rewrites the baseline
# from the current build: only when the release's API is final, or when a
# break is deliberate (a new major version).
ABI_BASELINE := abi/librnnplast.so.$(VERSION_MAJOR).abi

abi-check: deps-abi
	@$(MAKE) --no-print-directory abi-check-run

abi-check-run: $(SHARED)
	@sh scripts/abi.sh check $(SHARED) $(ABI_BASELINE)

abi-baseline: deps-abi
	@$(MAKE) --no-print-directory abi-baseline-run

abi-baseline-run: $(SHARED)
	sh scripts/abi.sh dump $(SHARED) $(ABI_BASELINE)
	@echo "abi-baseline: $(ABI_BASELINE) rewritten; commit it"

clean:
	rm -rf build build-asan build-clang build-cov build-fuzz build-tsan

FORCE:

# `make lint`: the tree is formatted as .clang-format says (clang-format
# --dry-run; `make format` rewrites it), src/ allocates only through the
# handle's allocator, and no two files of src/ or tools/ depend on each
# other (scripts/filedeps.sh).  tests/ckpt_v1_fixture.h is generated.
LINT_FILES = $(filter-out tests/ckpt_v1_fixture.h,$(wildcard src/*.[ch] include/*.h tools/*.[ch] \
    tools/*/*.c tests/*.[ch] tests/*/*.c examples/*.[ch] bench/*.[ch] fuzz/*.[ch]))

.PHONY: lint lint-run format

lint: deps-lint
	@$(MAKE) --no-print-directory lint-run

lint-run:
	@clang-format --dry-run --Werror $(LINT_FILES) && echo "lint: $(words $(LINT_FILES)) files formatted"
	@! grep -nE '\b(malloc|calloc|realloc|free)\(' src/*.c | grep -v '^src/status.c' || \
	    { echo "src/ must allocate through the handle's allocator (rp__calloc/rp__free)"; exit 1; }
	@mkdir -p $(B) && sh scripts/filedeps.sh > $(B)/filedeps.txt || { cat $(B)/filedeps.txt; exit 1; }
	@echo "lint: src/ allocates through its allocators; no mutual file dependencies"

format:
	clang-format -i $(LINT_FILES)

# ---- fuzzing and coverage ----
# `make fuzz`: the libFuzzer targets fuzz/fuzz_<t>.c, linked against the
# library built with clang, ASan, UBSan and coverage instrumentation
# (-fsanitize=fuzzer-no-link) in build-fuzz.  Each runs FUZZ_SECONDS from the
# committed seeds in fuzz/corpus/<t> (new inputs go to
# build-fuzz/fuzz/corpus/<t>, a finding to build-fuzz/fuzz/<t>-crash-*, the
# log to build-fuzz/fuzz/<t>.log) with fuzz/<t>.dict when it exists.  The
# first finding stops the run with a non-zero status.
# `make fuzz-corpus` (re)writes the generated seeds (fuzz/gen_corpus.c) into
# fuzz/corpus beside what the campaigns kept.
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-run fuzz-corpus coverage coverage-run check-tsan

fuzz: deps-fuzz
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang \
	    CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" fuzz-run

# A target may link sources of its own: FUZZ_EXTRA_<t> (the tool's CSV
# reader, with the names it checks against, for csv_row).
FUZZ_EXTRA_csv_row := tools/csv.c tools/opt.c
$(B)/fuzz/fuzz_csv_row: $(FUZZ_EXTRA_csv_row) tools/csv.h tools/tool.h

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_util.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer -Iinclude -Itools $(DEP_CFLAGS) $< \
	    $(FUZZ_EXTRA_$*) -o $@ $(STATIC) $(DEP_LIBS)

fuzz-run: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(B)/fuzz/corpus/$$t; \
	    dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	    printf 'fuzz %s for %s s ... ' $$t $(FUZZ_SECONDS); \
	    if $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(B)/fuzz/$$t- $$dict $(B)/fuzz/corpus/$$t fuzz/corpus/$$t \
	        > $(B)/fuzz/$$t.log 2>&1; then \
	        echo "ok, $$(sed -n 's/^stat::number_of_executed_units: *//p' $(B)/fuzz/$$t.log) runs"; \
	    else \
	        echo FAILED; tail -n 60 $(B)/fuzz/$$t.log; exit 1; \
	    fi; \
	done

fuzz-corpus: $(STATIC)
	@mkdir -p $(B)/fuzz
	$(CC) $(ALL_CFLAGS) fuzz/gen_corpus.c -o $(B)/fuzz/gen_corpus $(STATIC) $(DEP_LIBS)
	$(B)/fuzz/gen_corpus fuzz/corpus

# `make fuzz-replay`: every committed input (fuzz/corpus/<t>/*) run once
# through its target, as CI does before fuzzing: a regression check of a few
# seconds over everything the campaigns found.
# `make fuzz-campaign FUZZ_RUNS=10000000`: the long campaign behind the
# committed corpora: each target runs FUZZ_RUNS inputs from fuzz/corpus/<t>
# (new inputs in build-fuzz/campaign/<t>, the log beside them), then
# fuzz/corpus/<t> is replaced by the minimized union (libFuzzer -merge=1:
# the fewest inputs that keep every feature reached).
FUZZ_RUNS ?= 10000000

.PHONY: fuzz-replay fuzz-replay-run fuzz-campaign fuzz-campaign-run

fuzz-replay fuzz-campaign: deps-fuzz
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang \
	    CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $@-run

fuzz-replay-run: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    printf 'fuzz replay %s: %s inputs ... ' $$t "$$(ls fuzz/corpus/$$t | wc -l)"; \
	    if $(B)/fuzz/fuzz_$$t fuzz/corpus/$$t/* > $(B)/fuzz/$$t.replay.log 2>&1; then echo ok; \
	    else echo FAILED; tail -n 60 $(B)/fuzz/$$t.replay.log; exit 1; fi; \
	done

fuzz-campaign-run: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    c=$(B)/campaign/$$t; rm -rf $$c.min; mkdir -p $$c $$c.min; \
	    dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	    printf 'fuzz campaign %s, %s runs ... ' $$t $(FUZZ_RUNS); \
	    $(B)/fuzz/fuzz_$$t -runs=$(FUZZ_RUNS) -print_final_stats=1 -artifact_prefix=$$c- $$dict \
	        $$c fuzz/corpus/$$t > $$c.log 2>&1 || { echo FAILED; tail -n 60 $$c.log; exit 1; }; \
	    $(B)/fuzz/fuzz_$$t -merge=1 $$c.min fuzz/corpus/$$t $$c > $$c.merge.log 2>&1 || \
	        { echo "merge FAILED"; tail -n 20 $$c.merge.log; exit 1; }; \
	    rm -rf fuzz/corpus/$$t && mv $$c.min fuzz/corpus/$$t; \
	    echo "ok, $$(ls fuzz/corpus/$$t | wc -l) inputs kept"; \
	done

# `make coverage`: the library and the Check runner built with gcc --coverage
# in build-cov; the runner runs once and lcov reports line and branch
# coverage of src/ (summary printed, HTML in build-cov/html).  The report is
# written even when a test fails; the status is then non-zero.
coverage: deps-coverage
	@$(MAKE) --no-print-directory B=build-cov CC=gcc CFLAGS="-O0 -g --coverage" coverage-run

# lcov 1.16 on Debian 12 prints harmless Perl "Subroutine ... redefined"
# warnings; they are filtered out.  The zero baseline (--initial) keeps files
# that no test reaches in the figures, at 0%.
LCOV := lcov -q --rc lcov_branch_coverage=1
LCOV_QUIET := 2>&1 | { grep -v '^Subroutine .* redefined at' || true; }

coverage-run: $(TEST_BIN)
	@find $(B) -name '*.gcda' -delete
	@$(LCOV) --capture --initial --directory $(B)/obj --base-directory . \
	    -o $(B)/coverage.base.info $(LCOV_QUIET)
	@rc=0; $(TEST_BIN) || rc=$$?; \
	$(LCOV) --capture --directory $(B)/obj --base-directory . -o $(B)/coverage.run.info $(LCOV_QUIET); \
	$(LCOV) -a $(B)/coverage.base.info -a $(B)/coverage.run.info -o $(B)/coverage.all.info $(LCOV_QUIET); \
	$(LCOV) --extract $(B)/coverage.all.info '$(CURDIR)/src/*' -o $(B)/coverage.info $(LCOV_QUIET); \
	genhtml -q --branch-coverage --legend -o $(B)/html $(B)/coverage.info $(LCOV_QUIET); \
	echo "coverage of src/ (HTML: $(B)/html/index.html):"; \
	lcov --rc lcov_branch_coverage=1 --summary $(B)/coverage.info 2>&1 | grep -E '^ *(lines|functions|branches)' || rc=1; \
	exit $$rc

# `make check-tsan`: the threads suite (separate handles in parallel threads)
# under ThreadSanitizer, in build-tsan.  OpenBLAS is not instrumented; the
# suite pins it to one thread, so its calls stay in the calling thread.
check-tsan: deps-tsan
	@$(MAKE) --no-print-directory B=build-tsan CC=clang CFLAGS="-O1 -g -fsanitize=thread" \
	    build-tsan/tests/check_rnnplast
	CK_FORK=no CK_RUN_SUITE=threads TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/check_rnnplast

# ---- MPI ----
# Optional: the library and build/rnnplast never need MPI.  `make mpi` builds
# build/rnnplast-mpi (the same tool, its sweep run by MPI ranks: tools/mpi/)
# when mpicc exists; `make check-mpi` runs tests/mpi_smoke.sh with it.
MPICC ?= mpicc
MPI_SRCS := $(wildcard tools/mpi/*.c)
MPI_TOOL := $(B)/rnnplast-mpi

.PHONY: mpi check-mpi

mpi:
	@if command -v $(MPICC) > /dev/null 2>&1; then $(MAKE) --no-print-directory $(MPI_TOOL); \
	 else echo "mpi: $(MPICC) not found (make deps-mpi installs Open MPI); build/rnnplast-mpi not built" >&2; exit 1; fi

$(MPI_TOOL): $(TOOL_SRCS) $(MPI_SRCS) $(wildcard tools/*.h) $(STATIC)
	OMPI_CC=$(CC) $(MPICC) $(ALL_CFLAGS) -DRNNPLAST_MPI -Itools $(TOOL_SRCS) $(MPI_SRCS) -o $@ \
	    $(STATIC) $(DEP_LIBS) -lpthread

check-mpi: deps-mpi
	@$(MAKE) --no-print-directory $(TOOL) mpi
	@sh tests/mpi_smoke.sh $(TOOL) $(MPI_TOOL)
