build/san/tests/unit/harness.o: tests/unit/harness.c tests/unit/harness.h
tests/unit/harness.h:
