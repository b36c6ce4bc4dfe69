build/san/src/node/node_host.o: src/node/node_host.c src/node/node_int.h \
 src/node/node.h src/base/base.h src/store/store.h src/state/state.h
src/node/node_int.h:
src/node/node.h:
src/base/base.h:
src/store/store.h:
src/state/state.h:
