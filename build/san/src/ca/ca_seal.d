build/san/src/ca/ca_seal.o: src/ca/ca_seal.c src/ca/ca.h src/base/base.h
src/ca/ca.h:
src/base/base.h:
