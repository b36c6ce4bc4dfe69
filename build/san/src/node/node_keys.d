build/san/src/node/node_keys.o: src/node/node_keys.c src/node/node_int.h \
 src/node/node.h src/base/base.h src/store/store.h src/state/state.h \
 src/ca/ca.h
src/node/node_int.h:
src/node/node.h:
src/base/base.h:
src/store/store.h:
src/state/state.h:
src/ca/ca.h:
