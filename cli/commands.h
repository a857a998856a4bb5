/* commands.h - one function per `fathom` subcommand; each returns the process exit code:
 * 0 success, 1 some items failed, 2 usage/setup error, 130 interrupted. */
#ifndef FATHOM_CLI_COMMANDS_H
#define FATHOM_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);   /* cmd_run.c */
int cmd_info(int argc, char **argv);  /* cmd_info.c */
int cmd_bench(int argc, char **argv); /* cmd_bench.c */
int cmd_serve(int argc, char **argv); /* cmd_serve.c */
int cmd_report(int argc, char **argv); /* cmd_report.c */
int cmd_quantize(int argc, char **argv); /* cmd_quantize.c */

#endif
