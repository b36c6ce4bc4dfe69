build/san/src/api/api_events.o: src/api/api_events.c src/api/api_int.h \
 src/api/api.h src/http/http.h src/base/base.h src/node/node.h \
 src/store/store.h
src/api/api_int.h:
src/api/api.h:
src/http/http.h:
src/base/base.h:
src/node/node.h:
src/store/store.h:
