build/san/src/daemon/daemon.o: src/daemon/daemon.c src/daemon/daemon.h \
 src/api/api.h src/http/http.h src/base/base.h src/node/node.h \
 src/store/store.h
src/daemon/daemon.h:
src/api/api.h:
src/http/http.h:
src/base/base.h:
src/node/node.h:
src/store/store.h:
