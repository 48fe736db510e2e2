#ifndef INTERLINK_CSHIMS_H
#define INTERLINK_CSHIMS_H
// Wrappers for Linux calls that Swift's Glibc module does not export
// (see shared notes: accept4, pipe2, pidfd, the posix_spawn _np helpers).
#include <sys/types.h>
#include <sys/socket.h>
#include <spawn.h>
#include <signal.h>

int cshims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int cshims_pipe2_cloexec(int fds[2]);
int cshims_pidfd_open(pid_t pid);
// posix_spawn_file_actions_addchdir_np; returns an errno value.
int cshims_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
// Resets every signal disposition and unblocks all signals in the child.
int cshims_spawnattr_defaults(posix_spawnattr_t *attr, int new_process_group);
// Raises the soft RLIMIT_NOFILE to the hard limit (fs.nr_open if unlimited);
// returns the soft limit now in force (-1 on error), the hard one in *hard_out.
long cshims_raise_nofile(long *hard_out);
// openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC): one path component, a
// symbolic link opened as itself (O_PATH needs _GNU_SOURCE, which Swift lacks).
int cshims_openat_path_nofollow(int dirfd, const char *name);
// Gives the free pages of the heap back to the kernel (malloc_trim(0)).
int cshims_release_free_heap(void);
// Writes glibc's malloc_info (every arena's free blocks by size, XML) to `path`,
// for the benchmark's fragmentation dumps. 0, or -1 with errno.
int cshims_write_malloc_info(const char *path);
// Bytes the allocator has handed out and not had back (mallinfo2: uordblks +
// hblkhd), for the benchmark's memory figures: live heap, not RSS.
long cshims_heap_in_use(void);
// Fixes glibc's mmap threshold at `bytes` (mallopt M_MMAP_THRESHOLD), which also
// turns off its dynamic growth: large temporaries (a resync's maps of every pod)
// are then mapped and unmapped each time instead of being carved from the heap,
// where they would leave holes among long-lived records that RSS never gives back.
// Returns 1 on success.
int cshims_fix_mmap_threshold(long bytes);

// Caps glibc's malloc arenas (mallopt M_ARENA_MAX). By default every thread that
// allocates may get an arena of its own, up to 8 per core; the short-lived work of
// file and process threads then leaves each arena holding freed blocks among a
// few live ones, which RSS never gives back. Returns 1 on success.
int cshims_cap_malloc_arenas(int arenas);
// mount(source, target, NULL, MS_BIND, NULL): 0, or -1 with errno.
int cshims_bind_mount(const char *source, const char *target);
// umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW): 0, or -1 with errno (EINVAL: not a mount point).
int cshims_umount_detach(const char *target);
// The pid of the process at the other end of a connected unix socket
// (SO_PEERCRED; 0 when it is not visible in this PID namespace), -1 with errno.
int cshims_peer_pid(int fd);
#endif
