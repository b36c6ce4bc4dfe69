build/san/src/api/api_swarm.o: src/api/api_swarm.c src/api/api_int.h \
 src/api/api.h src/http/http.h src/base/base.h src/node/node.h \
 src/store/store.h
src/api/api_int.h:
src/api/api.h:
src/http/http.h:
src/base/base.h:
src/node/node.h:
src/store/store.h:
