/* The transaction state machine (router/txn.c): sequences of commands and what each one does, side by
 * side with what Redis answers. */
#include <check.h>
#include <string.h>

#include "../../router/txn.h"
#include "../support/run.h"

/* One step: the command (M multi, E exec, D discard, W watch, U unwatch, k a command with a key in slot
 * 1, K in slot 2, n keyless, s split over slots, x not allowed in a transaction, ! a planning error), and
 * whether the client has its WATCH connection (the caller's part: TXN_OPEN gives it one). */
static struct txn_input input(char c, int has_conn) {
    struct txn_input in = {.has_conn = has_conn, .slot = -1};
    switch (c) {
    case 'M': in.command = TXN_MULTI; break;
    case 'E': in.command = TXN_EXEC; break;
    case 'D': in.command = TXN_DISCARD; break;
    case 'W': in.command = TXN_WATCH, in.slot = 1; break;
    case 'V': in.command = TXN_WATCH, in.slot = 2; break;
    case 'U': in.command = TXN_UNWATCH; break;
    case 'k': in.slot = 1; break;
    case 'K': in.slot = 2; break;
    case 's': in.is_split = 1, in.slot = 1; break;
    case 'x': in.not_allowed = 1; break;
    case '!': in.is_error = 1, in.error = "ERR unknown command 'foo'"; break;
    }
    return in;
}

static char letter(int action) {
    static const char letters[] = {
        [TXN_REPLY_OK] = 'o', [TXN_REPLY_EMPTY] = '0',  [TXN_QUEUE] = 'q',      [TXN_ERROR] = 'e', [TXN_OPEN] = 'O',
        [TXN_SEND] = 's',     [TXN_SEND_RELEASE] = 'r', [TXN_EXEC_GROUP] = 'g', [TXN_ABORT] = 'a'};
    return letters[action];
}

static const struct {
    const char *commands, *want;
} cases[] = {
    {"MkkE", "oqqg"},     /* queued here, sent as one group at EXEC */
    {"ME", "o0"},         /* EXEC of nothing: an empty array */
    {"MnkE", "oqqg"},     /* a keyless command joins the keyed ones' slot */
    {"MkKE", "oqea"},     /* keys in two slots: CROSSSLOT while queueing, EXECABORT */
    {"MsE", "oea"},       /* a split command cannot be one slot's either */
    {"MxE", "oea"},       /* not allowed in a transaction */
    {"M!E", "oea"},       /* an unknown command while queueing aborts EXEC, as in Redis */
    {"MkD", "oqo"},       /* DISCARD: nothing sent */
    {"E", "e"},           /* EXEC without MULTI */
    {"D", "e"},           /* DISCARD without MULTI */
    {"MM", "oe"},         /* MULTI calls can not be nested */
    {"MW", "oe"},         /* WATCH inside MULTI is not allowed */
    {"WMkE", "Ossr"},     /* WATCH: the client's own connection, EXEC there, then it goes */
    {"WMKE", "Osea"},     /* WATCH pins the slot: another slot's key is CROSSSLOT */
    {"WV", "Oe"},         /* a second WATCH on another slot */
    {"WWU", "Osr"},       /* UNWATCH lets the connection go */
    {"U", "o"},           /* UNWATCH with nothing watched */
    {"MkEMkE", "oqgoqg"}, /* a transaction after another starts clean */
};

START_TEST(sequences) {
    struct txn_state s;
    txn_init(&s);
    int has_conn = 0;
    char got[32] = "";
    for (size_t k = 0; cases[_i].commands[k]; k++) {
        struct txn_input in = input(cases[_i].commands[k], has_conn);
        struct txn_decision d = txn_next(&s, &in);
        got[k] = letter(d.action);
        if (d.action == TXN_OPEN) txn_watched(&s, in.slot), has_conn = 1;
        if (d.action == TXN_SEND_RELEASE || d.action == TXN_ABORT) has_conn = 0;
        if (d.action == TXN_ABORT)
            ck_assert_str_eq(d.error, "EXECABORT Transaction discarded because of previous errors.");
        if (d.reset) txn_init(&s);
    }
    ck_assert_msg(!strcmp(got, cases[_i].want), "%s: %s, want %s", cases[_i].commands, got, cases[_i].want);
}
END_TEST

/* A WATCH connection lost (the node failed over) makes the next EXEC abort, as the watch is gone. */
START_TEST(a_lost_watch_aborts_exec) {
    struct txn_state s;
    txn_init(&s);
    struct txn_input w = input('W', 0), m = input('M', 1), e = input('E', 0);
    ck_assert_int_eq(txn_next(&s, &w).action, TXN_OPEN);
    txn_watched(&s, 1);
    ck_assert_int_eq(txn_next(&s, &m).action, TXN_SEND);
    txn_conn_lost(&s);
    ck_assert_int_eq(txn_next(&s, &e).action, TXN_ABORT);
}
END_TEST

SUITE_MAIN(.name = "txn",
           .tests = {LOOP_TEST(sequences, sizeof(cases) / sizeof(cases[0])), TEST(a_lost_watch_aborts_exec)})
