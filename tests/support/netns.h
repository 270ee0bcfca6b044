/* A test that changes what host names resolve to runs in a network namespace of its own: `ip netns
 * exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts for the processes inside (the test, its
 * redis-servers, slotgate), so the test rewrites that file and no one else's. Loopback only: the
 * namespace has nothing but lo, and its resolv.conf points at 127.0.0.1, where no DNS server listens. */
#ifndef SLOTGATE_TEST_NETNS_H
#define SLOTGATE_TEST_NETNS_H

/* Called first in main(): outside a namespace, creates one, runs this same program inside it, removes
 * the namespace and its files afterwards (also when the program failed) and exits with its status.
 * Inside, returns. Needs root (CAP_SYS_ADMIN) and iproute2's `ip`; fails loudly without them. */
void netns_enter(int argc, char **argv);

/* Replaces the namespace's /etc/hosts (in place: the bind mount follows the file, not the name). Lines
 * are "address name". Aborts outside a namespace of netns_enter's, so the machine's own file is safe. */
void netns_set_hosts(const char *lines);

#endif
