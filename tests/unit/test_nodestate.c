/* The probes' state machine (health/nodestate.c): sequences of probe outcomes and what each one does,
 * side by side. P = PONG, B = BUSY, F = failed; down_after 3. */
#include <check.h>
#include <string.h>

#include "../../health/nodestate.h"
#include "../support/run.h"

static const struct {
    const char *outcomes;
    const char *states; /* after each outcome: u(p), s(uspect), d(own) */
    const char *events; /* after each: '.' nothing, 'R' ask for a refresh, 'b' busy began, 'e' busy ended */
} cases[] = {
    {"PPP", "uuu", "..."},
    {"FP", "su", ".."},                /* one failed probe: suspect, then up again */
    {"FFF", "ssd", "..R"},             /* the third in a row: down, and the map may change: refresh */
    {"FFFFF", "ssddd", "..R.."},       /* asked once, not on every probe while down */
    {"FFFPFFF", "ssdussd", "..R...R"}, /* back up resets the count */
    {"FFPFF", "ssuss", "....."},       /* never three in a row: never down */
    {"BBP", "uuu", "b.e"},             /* busy is alive: up, busy began once, ended on PONG */
    {"FB", "su", ".b"},                /* a probe timing out, then BUSY once past the threshold */
    {"BFFFB", "ussdu", "b..R."},       /* a timeout while busy keeps it busy; BUSY again is no news */
    {"BFP", "usu", "b.e"},
};

static enum probe_outcome outcome(char c) { return c == 'P' ? PROBE_PONG : c == 'B' ? PROBE_BUSY : PROBE_FAILED; }
static char state_letter(int s) { return s == NODE_UP ? 'u' : s == NODE_SUSPECT ? 's' : 'd'; }

START_TEST(sequences) {
    struct node_health h = {0};
    char states[16] = "", events[16] = "";
    size_t n = strlen(cases[_i].outcomes);
    for (size_t k = 0; k < n; k++) {
        int before = h.state;
        struct node_change c = nodestate_next(&h, outcome(cases[_i].outcomes[k]), 3);
        ck_assert_int_eq(c.from, before);
        states[k] = state_letter(c.to);
        events[k] = c.ask_refresh ? 'R' : c.busy_began ? 'b' : c.busy_ended ? 'e' : '.';
    }
    ck_assert_msg(!strcmp(states, cases[_i].states) && !strcmp(events, cases[_i].events),
                  "%s: states %s events %s, want %s %s", cases[_i].outcomes, states, events, cases[_i].states,
                  cases[_i].events);
}
END_TEST

START_TEST(names) {
    ck_assert_str_eq(node_state_name(NODE_UP), "up");
    ck_assert_str_eq(node_state_name(NODE_SUSPECT), "suspect");
    ck_assert_str_eq(node_state_name(NODE_DOWN), "down");
}
END_TEST

SUITE_MAIN(.name = "nodestate", .tests = {LOOP_TEST(sequences, sizeof(cases) / sizeof(cases[0])), TEST(names)})
