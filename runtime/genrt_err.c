/* genrt_err.c: see genrt_err.h. */
#include "genrt_err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The length of the printable character at s: 1 for printable ASCII, 2 to
 * 4 for valid UTF-8 that is not a C1 control, 0 for anything else. */
static int printable_len(const unsigned char *s)
{
    if (s[0] >= 0x20 && s[0] < 0x7f)
        return 1;
    int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    uint32_t cp = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (n == 0 || cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int genrt_err_set(struct genrt_err *e, const char *fmt, ...)
{
    if (e) {
        char raw[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        /* Messages quote file names and what decoders say, which may echo
         * a file's bytes (stb_image names an unknown PNG chunk): control
         * bytes and invalid UTF-8 become \xNN, so a message is one line
         * that cannot move the cursor or recolor a terminal. */
        size_t o = 0;
        for (const unsigned char *s = (const unsigned char *)raw; *s && o + 5 <= sizeof e->msg;) {
            int n = printable_len(s);
            if (n) {
                memcpy(e->msg + o, s, (size_t)n);
                o += (size_t)n;
                s += n;
            } else {
                o += (size_t)snprintf(e->msg + o, 5, "\\x%02x", *s++);
            }
        }
        e->msg[o] = 0;
    }
    return -1;
}
