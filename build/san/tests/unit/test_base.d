build/san/tests/unit/test_base.o: tests/unit/test_base.c src/base/base.h \
 tests/unit/harness.h
src/base/base.h:
tests/unit/harness.h:
