/* Integration-test helpers: start real redis-server processes as a Redis Cluster on loopback, start
 * the real slotgate binary, talk to both with hiredis. Every process started is recorded by PID and
 * killed at exit (also when a test fails), by the process that started it and no other. */
#ifndef SLOTGATE_TEST_CLUSTER_H
#define SLOTGATE_TEST_CLUSTER_H

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include "wait.h"

#define CLUSTER_MAX_NODES 16

struct cluster {
    char dir[128];
    int base_port;
    int nnodes, nmasters;
    pid_t pids[CLUSTER_MAX_NODES];
};

#define SLOTGATE_ADMIN_OFFSET 5000 /* slotgate_start puts the admin endpoint on port + this */

struct slotgate {
    pid_t pid;
    int port;
    int admin_port; /* 0 when the test chose its own with --admin-port */
    char log[160];
};

/* Cluster bus ports are port + 10000: keep node ports below 22768 so bus ports stay out of the
 * kernel's ephemeral range (32768 and up), where an outgoing connection could hold them. */

/* TLS clusters: nodes started after this also listen with TLS on port + offset, with tls-cluster and
 * tls-replication yes (certificates from certdir, as tlsclient.h makes them); NULL: plaintext again.
 * Bus ports are then the TLS port + 10000. */
void cluster_use_tls(const char *certdir, int offset);
/* Starts masters * (1 + replicas) nodes on base_port.. and creates the cluster; aborts on failure. */
void cluster_start(struct cluster *cl, int base_port, int masters, int replicas);
void cluster_stop(struct cluster *cl);
/* The port of the master currently serving slot (asked of any live node). */
int cluster_master_for_slot(struct cluster *cl, int slot);
/* The same for the slot key hashes to. */
int cluster_master_for_key(struct cluster *cl, const char *key);
/* Node ID of the node on port. */
void node_id(int port, char out[41]);
/* Waits until every live node agrees on CLUSTER SLOTS and reports cluster_state:ok. */
int cluster_wait_ok(struct cluster *cl, int timeout_ms);

/* Starts slotgate on port with extra args (space separated, may be NULL) and seeds; waits until it
 * serves a key (or only until it accepts connections, when wait_map is 0). */
void slotgate_start(struct slotgate *sg, int port, const char *args, const char *seeds, int wait_map);
/* SIGTERM, then checks it exited 0 with no sanitizer report in its log. Returns 0 when clean. */
int slotgate_stop(struct slotgate *sg);
const char *slotgate_bin(void);

/* A suite's shared fixture: a cluster on base and slotgate on sg_port in front of it; down() stops
 * both and fails the suite if slotgate did not exit cleanly (status 0, no sanitizer report). */
void fixture_up(struct cluster *cl, struct slotgate *sg, int base, int masters, int replicas, int sg_port,
                const char *args);
void fixture_down(struct cluster *cl, struct slotgate *sg);

/* The port of a live replica of the master on master_port (from ROLE), or -1. */
int cluster_replica_of(struct cluster *cl, int master_port);
int node_role_is(int port, const char *role);      /* ROLE says "master" or "slave" */
int wait_role(int port, const char *role, int ms); /* 1 once the node has that role, 0 after ms */
/* Runs a shell command line (redis-cli --cluster ...), its output appended to the cluster's cli.log,
 * shown on failure; returns its status. */
int cluster_cli(struct cluster *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Until redis-cli --cluster check passes (every node agrees), as resharding requires. */
void cluster_wait_settled(struct cluster *cl);
/* After add-node of the node on port (node ID id): every node knows it, it sees the cluster ok, settled. */
void cluster_wait_joined(struct cluster *cl, int port, const char *id);

redisContext *connect_port(int port);
/* Runs a command and returns its reply; fails the test on a connection error. */
redisReply *cmd(redisContext *c, const char *fmt, ...);
/* A command whose reply must be the given status or bulk string. */
void expect_str(redisContext *c, const char *want, const char *fmt, ...);
/* 1 when the command's reply is that status or bulk string (for WAIT_UNTIL). */
int reply_is(redisContext *c, const char *want, const char *fmt, ...);
/* The integer value of field in INFO section (fails the test when the field is not there). */
long long info_int(redisContext *c, const char *section, const char *field);
/* 1 when INFO section's text contains text. */
int info_has(redisContext *c, const char *section, const char *text);
pid_t spawn(char *const argv[], const char *log_path);
/* A plain redis-server on port, its files in dir named by name: the oracle a test compares slotgate
 * with (what a client of one server sees). oracle_stop kills it. */
pid_t oracle_start(int port, const char *dir, const char *name);
void oracle_stop(pid_t pid);
/* One cluster-enabled redis-server on port, its files in dir (not yet part of any cluster). */
pid_t node_spawn(const char *dir, int port);
/* The same on port, but with the nodes.conf and dump of the node that was on files_port: that node,
 * with its node ID and data, on a new address. */
pid_t node_spawn_with_files_of(const char *dir, int port, int files_port);
int port_in_use(int port);
void track_pid(pid_t pid);
void untrack_pid(pid_t pid);
long long now_ms(void);
/* A process's resident memory in KiB (VmRSS in /proc/PID/status; 0 when unreadable). */
long long proc_rss_kib(pid_t pid);
/* Descriptors a process has open (/proc/PID/fd). */
int proc_fds(pid_t pid);
/* Whether slotgate's log has a line containing text. */
int slotgate_log_has(const struct slotgate *sg, const char *text);
void sleep_ms(int ms);

#endif
