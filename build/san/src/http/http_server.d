build/san/src/http/http_server.o: src/http/http_server.c \
 src/http/http_int.h src/http/http.h src/base/base.h
src/http/http_int.h:
src/http/http.h:
src/base/base.h:
