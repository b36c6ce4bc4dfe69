build/san/src/ca/ca_info.o: src/ca/ca_info.c src/ca/ca.h src/base/base.h
src/ca/ca.h:
src/base/base.h:
