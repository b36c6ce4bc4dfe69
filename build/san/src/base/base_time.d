build/san/src/base/base_time.o: src/base/base_time.c src/base/base.h
src/base/base.h:
