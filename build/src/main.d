build/src/main.o: src/main.c src/base/base.h
src/base/base.h:
