/* main.c — entry point: dispatches `shoal daemon` and the CLI commands. */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    fprintf(stderr, "usage: shoal daemon [flags]\n");
    return 2;
}
