build/san/src/http/http_tls.o: src/http/http_tls.c src/http/http_int.h \
 src/http/http.h src/base/base.h
src/http/http_int.h:
src/http/http.h:
src/base/base.h:
