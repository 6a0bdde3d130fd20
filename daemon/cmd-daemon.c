/* daemon/cmd-daemon.c: `keel daemon`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_daemon(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel daemon: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
