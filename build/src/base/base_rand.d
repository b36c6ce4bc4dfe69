build/src/base/base_rand.o: src/base/base_rand.c src/base/base.h
src/base/base.h:
