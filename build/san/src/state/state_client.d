build/san/src/state/state_client.o: src/state/state_client.c \
 src/state/state_int.h src/state/state.h src/base/base.h
src/state/state_int.h:
src/state/state.h:
src/base/base.h:
