build/san/src/base/base_err.o: src/base/base_err.c src/base/base.h
src/base/base.h:
