/* SPDX-License-Identifier: MIT */
/* The bext CLI's subcommands: each takes argc/argv from its own name on and
 * returns the process exit status. */
#ifndef BEXT_TOOL_COMMANDS_H
#define BEXT_TOOL_COMMANDS_H

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_events(int argc, char **argv);

struct bext_store;
/* The store directory a command uses: @dir, else $BEXT_STORE, else /dev/shm/bext. */
const char *cli_store_dir(const char *dir);
/*
 * Opens an existing store for a command that only reads it or removes from
 * it (list, dump, log, detach): creates nothing. NULL after a message on
 * stderr ("bext: no store at DIR" when there is none).
 */
struct bext_store *cli_open_existing_store(const char *dir, const char *cmd);

#endif
