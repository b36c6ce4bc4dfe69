build/san/src/store/store_json.o: src/store/store_json.c \
 src/store/store.h src/base/base.h
src/store/store.h:
src/base/base.h:
