build/san/src/store/store.o: src/store/store.c src/store/store_int.h \
 src/store/store.h src/base/base.h
src/store/store_int.h:
src/store/store.h:
src/base/base.h:
