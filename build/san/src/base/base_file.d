build/san/src/base/base_file.o: src/base/base_file.c src/base/base.h
src/base/base.h:
