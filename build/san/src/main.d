build/san/src/main.o: src/main.c src/base/base.h src/daemon/daemon.h
src/base/base.h:
src/daemon/daemon.h:
