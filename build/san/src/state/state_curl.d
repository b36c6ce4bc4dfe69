build/san/src/state/state_curl.o: src/state/state_curl.c \
 src/state/state_int.h src/state/state.h src/base/base.h
src/state/state_int.h:
src/state/state.h:
src/base/base.h:
