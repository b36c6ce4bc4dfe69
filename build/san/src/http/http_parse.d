build/san/src/http/http_parse.o: src/http/http_parse.c \
 src/http/http_int.h src/http/http.h src/base/base.h
src/http/http_int.h:
src/http/http.h:
src/base/base.h:
