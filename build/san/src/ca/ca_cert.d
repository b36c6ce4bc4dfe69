build/san/src/ca/ca_cert.o: src/ca/ca_cert.c src/ca/ca.h src/base/base.h
src/ca/ca.h:
src/base/base.h:
