build/san/src/base/base_log.o: src/base/base_log.c src/base/base.h
src/base/base.h:
