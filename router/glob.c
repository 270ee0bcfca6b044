/* See glob.h. The classic two-pointer matcher: on a mismatch after a '*', the '*' takes one more byte
 * and matching resumes just after it. Only the last '*' needs remembering, since a later '*' can absorb
 * anything an earlier one could, so the work is O(plen * slen) at worst and never recursive. */
#include "glob.h"

static unsigned char fold(unsigned char c, int nocase) {
    return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Does the class starting just after '[' at pat[*pi] match c? Moves *pi past the closing ']' (or to the
 * end of an unterminated class, which Redis also takes as closed there). */
static int class_match(const char *pat, size_t plen, size_t *pi, unsigned char c, int nocase) {
    size_t i = *pi;
    int negate = i < plen && pat[i] == '^', match = 0;
    if (negate) i++;
    c = fold(c, nocase);
    while (i < plen && pat[i] != ']') {
        if (pat[i] == '\\' && i + 1 < plen) {
            if ((unsigned char)pat[i + 1] == c) match = 1;
            i += 2;
        } else if (i + 2 < plen && pat[i + 1] == '-') {
            unsigned char lo = fold((unsigned char)pat[i], nocase), hi = fold((unsigned char)pat[i + 2], nocase);
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi) match = 1;
            i += 3;
        } else {
            if (fold((unsigned char)pat[i], nocase) == c) match = 1;
            i++;
        }
    }
    *pi = i < plen ? i + 1 : i;
    return negate ? !match : match;
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase) {
    size_t p = 0, s = 0, star_p = (size_t)-1, star_s = 0;
    while (s < slen) {
        if (p < plen) {
            char pc = pat[p];
            if (pc == '*') {
                while (p < plen && pat[p] == '*') p++;
                if (p == plen) return 1;
                star_p = p;
                star_s = s;
                continue;
            }
            if (pc == '?') {
                p++, s++;
                continue;
            }
            if (pc == '[') {
                size_t np = p + 1;
                if (class_match(pat, plen, &np, (unsigned char)str[s], nocase)) {
                    p = np, s++;
                    continue;
                }
            } else {
                size_t lit = pc == '\\' && p + 1 < plen ? p + 1 : p;
                if (fold((unsigned char)pat[lit], nocase) == fold((unsigned char)str[s], nocase)) {
                    p = lit + 1, s++;
                    continue;
                }
            }
        }
        if (star_p == (size_t)-1) return 0;
        p = star_p; /* the last '*' takes one more byte */
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*') p++;
    return p == plen;
}
