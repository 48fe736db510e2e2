#define _GNU_SOURCE
#include <malloc.h>
#include "cshims.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>

int cshims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int cshims_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int cshims_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int cshims_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int cshims_spawnattr_defaults(posix_spawnattr_t *attr, int new_process_group) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    int rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc) return rc;
    rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc) return rc;
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (new_process_group) {
        rc = posix_spawnattr_setpgroup(attr, 0);
        if (rc) return rc;
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    return posix_spawnattr_setflags(attr, flags);
}

#include <sys/resource.h>
#include <stdio.h>

long cshims_raise_nofile(long *hard_out) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    rlim_t target = rl.rlim_max;
    if (target == RLIM_INFINITY) {
        // The kernel refuses an infinite NOFILE; its real ceiling is fs.nr_open.
        target = 1048576;
        FILE *f = fopen("/proc/sys/fs/nr_open", "re");
        if (f) { unsigned long v; if (fscanf(f, "%lu", &v) == 1) target = v; fclose(f); }
    }
    if (hard_out) *hard_out = (long)rl.rlim_max;
    if (rl.rlim_cur < target) {
        struct rlimit want = { target, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) return (long)target;
    }
    return (long)rl.rlim_cur;
}

int cshims_openat_path_nofollow(int dirfd, const char *name) {
    return openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

int cshims_fix_mmap_threshold(long bytes) {
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
}

int cshims_cap_malloc_arenas(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}

int cshims_release_free_heap(void) {
    return malloc_trim(0);
}

int cshims_write_malloc_info(const char *path) {
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    int r = malloc_info(0, f);
    return fclose(f) == 0 ? r : -1;
}

long cshims_heap_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return (long)(m.uordblks + m.hblkhd);
}

#include <sys/mount.h>

int cshims_bind_mount(const char *source, const char *target) {
    return mount(source, target, NULL, MS_BIND, NULL);
}

int cshims_umount_detach(const char *target) {
    return umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
}

int cshims_peer_pid(int fd) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    return (int)cred.pid;
}
