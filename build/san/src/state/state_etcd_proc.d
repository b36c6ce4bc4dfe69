build/san/src/state/state_etcd_proc.o: src/state/state_etcd_proc.c \
 src/state/state_int.h src/state/state.h src/base/base.h
src/state/state_int.h:
src/state/state.h:
src/base/base.h:
