build/src/base/base_buf.o: src/base/base_buf.c src/base/base.h
src/base/base.h:
