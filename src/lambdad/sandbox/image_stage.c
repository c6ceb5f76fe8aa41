/* The privileged stage of a container image's sandbox, linked statically.
 *
 * It runs as root (with the capabilities bwrap keeps) inside the image's root, so it
 * must load and read nothing there: no dynamic loader (whose /etc/ld.so.preload and
 * library directories the image would provide), no user or group names (NSS reads the
 * image's /etc/nsswitch.conf and loads the modules it names), no locale.
 *
 *     image-stage UID GID PROGRAM [ARG...]
 *
 * A cgroup namespace rooted at the cgroup the environment joined, no_new_privs, an
 * empty bounding set, no inheritable capabilities, no supplementary groups, then
 * GID and UID (real, effective and saved: every capability is gone), then PROGRAM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

static void fail(const char *what) {
    fprintf(stderr, "image-stage: %s: %s\n", what, strerror(errno));
    exit(127);
}

static unsigned long number(const char *s) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v == 0 || v > 0xfffffffeUL) {
        fprintf(stderr, "image-stage: not a uid or gid: %s\n", s);
        exit(127);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: image-stage UID GID PROGRAM [ARG...]\n");
        return 127;
    }
    uid_t uid = (uid_t)number(argv[1]);
    gid_t gid = (gid_t)number(argv[2]);
    if (unshare(CLONE_NEWCGROUP) != 0) fail("unshare");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs");
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("bounding set");
    }
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, data) != 0) fail("capget");
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) data[i].inheritable = 0;
    if (syscall(SYS_capset, &header, data) != 0) fail("capset");
    if (setgroups(0, NULL) != 0) fail("setgroups");
    if (setresgid(gid, gid, gid) != 0) fail("setresgid");
    if (setresuid(uid, uid, uid) != 0) fail("setresuid");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail("ambient capabilities");
    execv(argv[3], argv + 3);
    fail(argv[3]);
    return 127;
}
