build/san/src/node/node_swarm.o: src/node/node_swarm.c \
 src/node/node_int.h src/node/node.h src/base/base.h src/store/store.h \
 src/state/state.h src/ca/ca.h
src/node/node_int.h:
src/node/node.h:
src/base/base.h:
src/store/store.h:
src/state/state.h:
src/ca/ca.h:
