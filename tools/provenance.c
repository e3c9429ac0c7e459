/* Provenance of the tool's outputs (tool.h): the build's commit and the
   command line, as comment lines of every CSV it writes. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

#ifndef RP_TOOL_COMMIT
#define RP_TOOL_COMMIT "unknown" /* a build without the Makefile */
#endif

/* The tool's own command line: set once by main, read by every writer (the
   forked sweep workers inherit it). */
static int prov_argc;
static char **prov_argv;

const char *prov_commit(void) { return RP_TOOL_COMMIT; }

void prov_init(int argc, char **argv)
{
    if (!prov_argv) {
        prov_argc = argc;
        prov_argv = argv;
    }
}

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = 2 * (b->len + n + 1) + 256;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* One argument, shell-quoted (tool.h: prov_lines), appended to b. */
static void quote_arg(buf *b, const char *a)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "_@%+=:,./-";
    size_t n = strlen(a);
    int plain = n > 0, printable = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        plain &= strchr(safe, c) != NULL;
        printable &= c >= 0x20 && c < 0x7f;
    }
    if (plain) {
        put(b, a, n);
    } else if (printable) {
        puts_(b, "'");
        for (size_t i = 0; i < n; i++)
            if (a[i] == '\'')
                puts_(b, "'\\''");
            else
                put(b, a + i, 1);
        puts_(b, "'");
    } else {
        puts_(b, "$'");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)a[i];
            char e[8];
            if (c == '\'' || c == '\\') {
                e[0] = '\\';
                e[1] = (char)c;
                put(b, e, 2);
            } else if (c >= 0x20 && c < 0x7f) {
                put(b, a + i, 1);
            } else {
                snprintf(e, sizeof e, "\\x%02x", c);
                puts_(b, e);
            }
        }
        puts_(b, "'");
    }
}

char *prov_lines(void)
{
    buf b = {0};
    char line[256];
    snprintf(line, sizeof line, "# built: librnnplast %s, rnnplast commit %s\n",
             rp_version_string(), prov_commit());
    puts_(&b, line);
    static const char head[] = "# command:", cont[] = "# command (continued):";
    puts_(&b, head);
    size_t start = b.len - strlen(head); /* of the current line */
    for (int i = 0; i < prov_argc; i++) {
        buf q = {0};
        quote_arg(&q, prov_argv[i]);
        if (q.oom) {
            free(b.p);
            return NULL;
        }
        size_t room = PROV_MAX_LINE - 1 - strlen(cont) - 1; /* a fresh line's room */
        if (q.len > room) { /* an argument longer than a line: cut, and say so */
            char note[64];
            int nn = snprintf(note, sizeof note, "...[cut: %zu more bytes]", q.len - (room - 64));
            q.len = room - 64;
            put(&q, note, (size_t)nn);
        }
        if (b.len - start + 1 + q.len > PROV_MAX_LINE - 1) {
            puts_(&b, "\n");
            start = b.len;
            puts_(&b, cont);
        }
        puts_(&b, " ");
        put(&b, q.p ? q.p : "", q.len);
        free(q.p);
    }
    puts_(&b, "\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int prov_is_line(const char *s)
{
    return strncmp(s, "# built: ", 9) == 0 || strncmp(s, "# command:", 10) == 0 ||
           strncmp(s, "# command (continued):", 22) == 0;
}

int prov_line_commit(const char *s, char *out, size_t len)
{
    static const char key[] = ", rnnplast commit ";
    if (strncmp(s, "# built: ", 9) != 0)
        return -1;
    const char *c = strstr(s, key);
    if (!c)
        return -1;
    c += strlen(key);
    size_t n = strspn(c, "0123456789abcdef");
    int ok = (n >= 4 && n <= 40 && (c[n] == 0 || strcmp(c + n, "-dirty") == 0)) ||
             strcmp(c, "unknown") == 0;
    if (!ok || strlen(c) >= len)
        return -1;
    strcpy(out, c);
    return 0;
}
