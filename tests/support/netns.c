/* See netns.h. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_NAME "SGTEST_NETNS" /* not SLOTGATE_*: slotgate reads those as settings */

static int run(const char *cmdline) {
    int rc = system(cmdline);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        fprintf(stderr, "netns: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    close(fd);
}

static char ns_dir[128];
static char ns_name[64];

static void remove_ns(void) {
    char cmdline[512];
    snprintf(cmdline, sizeof(cmdline), "ip netns del %s 2>/dev/null; rm -rf %s", ns_name, ns_dir);
    if (run(cmdline) != 0) fprintf(stderr, "netns: could not remove %s\n", ns_name);
}

static pid_t child;
static void forward(int sig) {
    if (child > 0) kill(child, sig);
}

void netns_enter(int argc, char **argv) {
    (void)argc;
    if (getenv(ENV_NAME)) return; /* inside */
    snprintf(ns_name, sizeof(ns_name), "slotgate-test-%d", (int)getpid());
    snprintf(ns_dir, sizeof(ns_dir), "/etc/netns/%s", ns_name);
    char cmdline[512];
    if (geteuid() != 0) {
        fprintf(stderr, "netns: %s needs root to create a network namespace (ip netns add)\n", argv[0]);
        exit(1);
    }
    snprintf(cmdline, sizeof(cmdline), "mkdir -p %s && ip netns add %s && ip netns exec %s ip link set lo up", ns_dir,
             ns_name, ns_name);
    char path[192];
    snprintf(path, sizeof(path), "/etc/netns/%s", ns_name);
    if (run("mkdir -p /etc/netns") != 0) exit(1);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/hosts", ns_dir);
    write_file(path, "127.0.0.1 localhost\n");
    snprintf(path, sizeof(path), "%s/resolv.conf", ns_dir);
    write_file(path, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    if (run(cmdline) != 0) {
        fprintf(stderr, "netns: could not create network namespace %s\n", ns_name);
        remove_ns();
        exit(1);
    }
    setenv(ENV_NAME, ns_name, 1);
    child = fork();
    if (child == 0) {
        char **args = calloc((size_t)argc + 5, sizeof(char *));
        int n = 0;
        args[n++] = "ip", args[n++] = "netns", args[n++] = "exec", args[n++] = ns_name;
        for (int i = 0; i < argc; i++) args[n++] = argv[i];
        execvp("ip", args);
        _exit(127);
    }
    signal(SIGINT, forward);
    signal(SIGTERM, forward);
    int status = 1;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    remove_ns();
    exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

void netns_set_hosts(const char *lines) {
    const char *name = getenv(ENV_NAME);
    struct stat mine, theirs;
    char path[192];
    snprintf(path, sizeof(path), "/etc/netns/%s/hosts", name ? name : "-");
    /* /etc/hosts must be the namespace's file (same inode), or we are not where we think we are */
    if (!name || stat("/etc/hosts", &mine) != 0 || stat(path, &theirs) != 0 || mine.st_ino != theirs.st_ino ||
        mine.st_dev != theirs.st_dev) {
        fprintf(stderr, "netns: refusing to write /etc/hosts outside a test namespace\n");
        abort();
    }
    char text[4096];
    snprintf(text, sizeof(text), "127.0.0.1 localhost\n%s", lines);
    write_file("/etc/hosts", text);
}
