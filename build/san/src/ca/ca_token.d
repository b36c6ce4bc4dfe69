build/san/src/ca/ca_token.o: src/ca/ca_token.c src/ca/ca.h \
 src/base/base.h
src/ca/ca.h:
src/base/base.h:
