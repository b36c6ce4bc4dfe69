build/san/src/base/base_mem.o: src/base/base_mem.c src/base/base.h
src/base/base.h:
