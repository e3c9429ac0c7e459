/* The sweep CSV schema (csv.h): parse, validate and write one row, read lines
   without splitting them, read a whole sweep CSV. */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const col_names[CSV_NCOLS_AXES] = {"rule",
                                                      "gain",
                                                      "floss",
                                                      "seed",
                                                      "ok",
                                                      "iters",
                                                      "train_loss",
                                                      "test_loss",
                                                      "test_acc",
                                                      "lambda_before",
                                                      "lambda_after",
                                                      "response_rate",
                                                      "choice_acc",
                                                      "ftle_before",
                                                      "ftle_after",
                                                      "ftle_sd_before",
                                                      "ftle_sd_after",
                                                      "delay_lambda_before",
                                                      "delay_lambda_after",
                                                      "dw_rel",
                                                      "path_rel",
                                                      "feedback",
                                                      "lr"};

/* The text s[0..n) quoted for a message: printable ASCII as is, anything
   else as \xNN, at most 40 bytes shown. */
static void escaped(const char *s, size_t n, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            o += (size_t)snprintf(out + o, len - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static int bad(int col, const char *s, size_t n, char *err, size_t errlen, const char *expected)
{
    char got[256];
    escaped(s, n, got, sizeof got);
    snprintf(err, errlen, "column %d (%s): expected %s, got '%s'", col + 1, col_names[col],
             expected, got);
    return col + 1;
}

static int is_word(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* The exponent columns: they may also hold -inf (csv.h). */
static int is_lambda(int c)
{
    return c == CSV_LAM_BEFORE || c == CSV_LAM_AFTER || c == CSV_FTLE_BEFORE ||
           c == CSV_FTLE_AFTER || c == CSV_DELAY_BEFORE || c == CSV_DELAY_AFTER;
}

/* What column c of the values (CSV_TRAIN_LOSS...) may hold besides nan. */
static int val_ok(int c, double x)
{
    if (is_lambda(c))
        return isfinite(x) || x == -INFINITY;
    switch (c) {
    case CSV_TRAIN_LOSS:
    case CSV_TEST_LOSS:
    case CSV_FTLE_SD_BEFORE:
    case CSV_FTLE_SD_AFTER:
    case CSV_DW:
    case CSV_PATH:
        return isfinite(x) && x >= 0.0;
    case CSV_TEST_ACC:
    case CSV_RESPONSE:
    case CSV_CHOICE:
        return x >= 0.0 && x <= 1.0;
    default:
        return 0;
    }
}

static const char *const val_expected[CSV_NVAL] = {
    "a number >= 0 or nan",      "a number >= 0 or nan",  "a number in [0, 1] or nan",
    "a number, -inf or nan",     "a number, -inf or nan", "a number in [0, 1] or nan",
    "a number in [0, 1] or nan", "a number, -inf or nan", "a number, -inf or nan",
    "a number >= 0 or nan",      "a number >= 0 or nan",  "a number, -inf or nan",
    "a number, -inf or nan",     "a number >= 0 or nan",  "a number >= 0 or nan"};

static int parse_field(int col, const char *s, size_t n, csv_row *r, char *err, size_t errlen)
{
    uint64_t u;
    char name[16];
    switch (col) {
    case 0:
    case 2:
        if (n >= sizeof name)
            return bad(col, s, n, err, errlen,
                       col ? "off, local, exact or on" : "bptt, tbptt, rtrl, eprop or rflo");
        memcpy(name, s, n);
        name[n] = 0;
        if (memchr(s, 0, n) ||
            (col == 0 ? parse_rule(name, &r->rule) : parse_floss(name, &r->floss)))
            return bad(col, s, n, err, errlen,
                       col ? "off, local, exact or on" : "bptt, tbptt, rtrl, eprop or rflo");
        return 0;
    case 1:
        if (parse_num_n(s, n, &r->gain) || !(r->gain >= 0.0))
            return bad(col, s, n, err, errlen, "a number >= 0");
        return 0;
    case 3:
        if (parse_u64_n(s, n, &u) || u < 1)
            return bad(col, s, n, err, errlen, "an integer >= 1");
        r->seed = u;
        return 0;
    case 4:
        if (!is_word(s, n, "0") && !is_word(s, n, "1"))
            return bad(col, s, n, err, errlen, "0 or 1");
        r->ok = s[0] == '1';
        return 0;
    case 5:
        if (parse_u64_n(s, n, &r->iters))
            return bad(col, s, n, err, errlen, "an integer >= 0");
        return 0;
    case CSV_NCOLS: /* feedback (CSV_COLUMNS_AXES) */
        if (n >= sizeof name || memchr(s, 0, n))
            return bad(col, s, n, err, errlen, "symmetric, random or none");
        memcpy(name, s, n);
        name[n] = 0;
        if (parse_feedback(name, &r->fb))
            return bad(col, s, n, err, errlen, "symmetric, random or none");
        return 0;
    case CSV_NCOLS + 1: /* lr */
        if (parse_num_n(s, n, &r->lr) || !(r->lr > 0.0))
            return bad(col, s, n, err, errlen, "a number > 0");
        return 0;
    default: {
        int c = col - 6;
        double x;
        if (is_word(s, n, "nan") || is_word(s, n, "-nan"))
            x = NAN;
        else if (is_lambda(c) && is_word(s, n, "-inf"))
            x = -INFINITY;
        else if (parse_num_n(s, n, &x) || !val_ok(c, x))
            return bad(col, s, n, err, errlen, val_expected[c]);
        r->val[c] = x;
        return 0;
    }
    }
}

int csv_header_cols(const char *s, size_t len)
{
    if (is_word(s, len, CSV_COLUMNS_AXES))
        return CSV_NCOLS_AXES;
    if (is_word(s, len, CSV_COLUMNS))
        return CSV_NCOLS;
    if (is_word(s, len, CSV_COLUMNS_V2))
        return CSV_NCOLS_V2;
    return is_word(s, len, CSV_COLUMNS_V1) ? CSV_NCOLS_V1 : 0;
}

int csv_parse_row(const char *s, size_t len, csv_row *r, char *err, size_t errlen)
{
    return csv_parse_row_n(s, len, CSV_NCOLS, r, err, errlen);
}

int csv_parse_row_n(const char *s, size_t len, int ncols, csv_row *r, char *err, size_t errlen)
{
    size_t at = 0;
    csv_row w;
    memset(&w, 0, sizeof w);
    if (ncols != CSV_NCOLS_V1 && ncols != CSV_NCOLS_V2 && ncols != CSV_NCOLS_AXES)
        ncols = CSV_NCOLS;
    for (int c = 0; c < CSV_NVAL; c++)
        w.val[c] = NAN; /* the columns an old row lacks */
    for (int col = 0; col < ncols; col++) {
        if (at > len) {
            snprintf(err, errlen, "column %d (%s): missing (%d fields, expected %d)", col + 1,
                     col_names[col], col, ncols);
            return col + 1;
        }
        const char *c = memchr(s + at, ',', len - at);
        size_t n = c ? (size_t)(c - (s + at)) : len - at;
        int b = parse_field(col, s + at, n, &w, err, errlen);
        if (b)
            return b;
        at += n + 1;
    }
    if (at <= len) {
        snprintf(err, errlen, "column %d: unexpected field (expected %d)", ncols + 1, ncols);
        return ncols + 1;
    }
    *r = w;
    return 0;
}

int csv_curve_header_cols(const char *s, size_t len)
{
    if (is_word(s, len, CURVE_COLUMNS))
        return CURVE_NCOLS;
    return is_word(s, len, CURVE_COLUMNS_V1) ? CURVE_NCOLS_V1 : 0;
}

int csv_parse_curve(const char *s, size_t len, int ncols, uint64_t *iter, double *test_loss,
                    char *err, size_t errlen)
{
    static const char *const names[CURVE_NCOLS] = {
        "iter", "train_loss", "test_loss", "test_acc", "floss_F", "response_rate", "choice_acc"};
    size_t at = 0;
    double v[CURVE_NCOLS] = {0};
    if (ncols != CURVE_NCOLS_V1)
        ncols = CURVE_NCOLS;
    for (int col = 0; col < ncols; col++) {
        if (at > len) {
            snprintf(err, errlen, "column %d (%s): missing (%d fields, expected %d)", col + 1,
                     names[col], col, ncols);
            return col + 1;
        }
        const char *c = memchr(s + at, ',', len - at), *f = s + at;
        size_t n = c ? (size_t)(c - f) : len - at;
        uint64_t u = 0;
        int ok;
        if (col == 0)
            ok = !parse_u64_n(f, n, &u);
        else if (n == 0 || is_word(f, n, "nan") || is_word(f, n, "-nan"))
            ok = 1, v[col] = NAN;
        else if (is_word(f, n, "inf") || is_word(f, n, "-inf"))
            ok = 1, v[col] = f[0] == '-' ? -INFINITY : INFINITY;
        else
            ok = !parse_num_n(f, n, &v[col]);
        if (!ok) {
            char got[256];
            escaped(f, n, got, sizeof got);
            snprintf(err, errlen, "column %d (%s): expected %s, got '%s'", col + 1, names[col],
                     col ? "a number, nan, inf or nothing" : "an integer >= 0", got);
            return col + 1;
        }
        if (col == 0)
            *iter = u;
        at += n + 1;
    }
    if (at <= len) {
        snprintf(err, errlen, "column %d: unexpected field (expected %d)", ncols + 1, ncols);
        return ncols + 1;
    }
    *test_loss = v[2];
    return 0;
}

int csv_format_row(const csv_row *r, char *buf, size_t len)
{
    int o = snprintf(buf, len, "%s,%g,%s,%llu,%d,%llu", rule_name(r->rule), r->gain,
                     floss_name(r->floss), (unsigned long long)r->seed, r->ok ? 1 : 0,
                     (unsigned long long)r->iters);
    for (int c = 0; c < CSV_NVAL && o >= 0 && (size_t)o < len; c++) {
        double x = r->val[c];
        if (x == -INFINITY && is_lambda(c))
            o += snprintf(buf + o, len - (size_t)o, ",-inf");
        else if (isnan(x) || !val_ok(c, x))
            o += snprintf(buf + o, len - (size_t)o, ",nan");
        else
            o += snprintf(buf + o, len - (size_t)o, ",%.6g", x);
    }
    if (r->fb && o >= 0 && (size_t)o < len)
        o += snprintf(buf + o, len - (size_t)o, ",%s,%g", feedback_name(r->fb), r->lr);
    return o >= 0 && (size_t)o < len ? o : -1;
}

int csv_next_line(csv_reader *r, size_t *len, int *complete)
{
    size_t n = 0;
    int c, any = 0;
    while ((c = getc(r->f)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (n < CSV_MAX_LINE)
            r->buf[n] = (char)c;
        n++;
    }
    if (!any)
        return CSV_EOF;
    r->lineno++;
    if (n > CSV_MAX_LINE)
        return CSV_LONG;
    r->buf[n] = 0;
    *len = n;
    *complete = c == '\n';
    return CSV_LINE;
}

/* Whether the NUL-terminated line holds tok followed by a space or its end. */
static int has_token(const char *line, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = strstr(line, tok); p; p = strstr(p + 1, tok))
        if (p[n] == ' ' || p[n] == '\0')
            return 1;
    return 0;
}

int csv_read_sweep(FILE *f, csv_row **rows, size_t *n, char *err, size_t errlen)
{
    csv_reader rd = {.f = f};
    size_t cap = 0, nr = 0, len;
    csv_row *v = NULL;
    int header = 0, complete, k, single = 0;
    char msg[400];
    *rows = NULL;
    *n = 0;
    while ((k = csv_next_line(&rd, &len, &complete)) != CSV_EOF) {
        if (k == CSV_LONG) {
            snprintf(err, errlen, "line %zu: column 1: longer than %d bytes", rd.lineno,
                     CSV_MAX_LINE);
            free(v);
            return EXIT_USAGE;
        }
        if (rd.buf[0] == '#') {
            if (rd.lineno == 1) /* the configuration line (sweep.c config_line) */
                single = has_token(rd.buf, " precision=single");
            continue;
        }
        if (!header) {
            header = csv_header_cols(rd.buf, len);
            if (!header) {
                snprintf(err, errlen,
                         "line %zu: column 1: expected the header " CSV_COLUMNS
                         " (or " CSV_COLUMNS_AXES ", or, in an older CSV, " CSV_COLUMNS_V2
                         " or " CSV_COLUMNS_V1 ")",
                         rd.lineno);
                free(v);
                return EXIT_USAGE;
            }
            continue;
        }
        if (nr == cap) {
            csv_row *w = realloc(v, (cap ? 2 * cap : 64) * sizeof *v);
            if (!w) {
                snprintf(err, errlen, "out of memory at line %zu", rd.lineno);
                free(v);
                return 1;
            }
            v = w;
            cap = cap ? 2 * cap : 64;
        }
        if (csv_parse_row_n(rd.buf, len, header, &v[nr], msg, sizeof msg)) {
            snprintf(err, errlen, "line %zu: %s", rd.lineno, msg);
            free(v);
            return EXIT_USAGE;
        }
        v[nr].single = single;
        nr++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "read error after line %zu", rd.lineno);
        free(v);
        return 1;
    }
    if (!header || nr == 0) {
        snprintf(err, errlen, "line %zu: column 1: %s", rd.lineno + 1,
                 header ? "no rows" : "no header " CSV_COLUMNS);
        free(v);
        return EXIT_USAGE;
    }
    *rows = v;
    *n = nr;
    return 0;
}

int csv_curve_path(char *buf, size_t len, const char *dir, rp_rule_kind rule, double gain,
                   floss_kind floss, uint64_t seed)
{
    return snprintf(buf, len, "%s/%s_g%g_%s_s%llu.csv", dir, rule_name(rule), gain,
                    floss_name(floss), (unsigned long long)seed);
}

int csv_curve_path_axes(char *buf, size_t len, const char *dir, rp_rule_kind rule, double gain,
                        floss_kind floss, uint64_t seed, int fb, double lr)
{
    if (!fb)
        return csv_curve_path(buf, len, dir, rule, gain, floss, seed);
    return snprintf(buf, len, "%s/%s_g%g_%s_s%llu_%s_lr%g.csv", dir, rule_name(rule), gain,
                    floss_name(floss), (unsigned long long)seed, feedback_name(fb), lr);
}
