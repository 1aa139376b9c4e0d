#ifndef C_PROCESS_SPAWN_H
#define C_PROCESS_SPAWN_H

#include <spawn.h>

/// glibc's `posix_spawn` file actions that Swift's Glibc module leaves out (it is built without
/// `_GNU_SOURCE`). Each returns 0 or an error number, as `posix_spawn_file_actions_*` do.

/// Closes every descriptor from `lowest` up in the child, so it inherits none it was not given.
int process_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int lowest);

/// Makes `path` the child's working directory.
int process_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
