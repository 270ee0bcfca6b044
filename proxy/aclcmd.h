/* ACL USERS, CAT, GETUSER, LIST, DRYRUN and LOG, answered by slotgate from its own users (users.h) as Redis
 * answers them; ACL SETUSER, DELUSER, LOAD and SAVE stay refused (users change through SIGHUP). aclcmd.c. */
#ifndef SLOTGATE_ACLCMD_H
#define SLOTGATE_ACLCMD_H

#include "../router/resp.h"

struct client;
struct req;

void acl_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd);
void slowlog_local(struct client *c, struct req *r, int what, const struct resp_request *q, const char *cmd);

#endif
