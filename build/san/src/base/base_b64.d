build/san/src/base/base_b64.o: src/base/base_b64.c src/base/base.h
src/base/base.h:
