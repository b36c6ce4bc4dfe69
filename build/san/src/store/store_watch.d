build/san/src/store/store_watch.o: src/store/store_watch.c \
 src/store/store_int.h src/store/store.h src/base/base.h
src/store/store_int.h:
src/store/store.h:
src/base/base.h:
