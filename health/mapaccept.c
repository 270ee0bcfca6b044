/* See mapaccept.h. */
#include "mapaccept.h"

enum map_decision mapaccept_decide(const struct slotmap *current, const struct map_opinion *first,
                                   const struct map_opinion *answer) {
    if (first) {
        if (slotmap_same(first->map, answer->map)) return MAP_TAKE_SECOND;
        int first_wins = first->epoch > answer->epoch ||
                         (first->epoch == answer->epoch && first->map->covered > answer->map->covered);
        return first_wins ? MAP_TAKE_FIRST : MAP_TAKE_SECOND;
    }
    if (current && !slotmap_same(current, answer->map)) return MAP_ASK_SECOND;
    return MAP_TAKE;
}
