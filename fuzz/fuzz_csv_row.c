/* libFuzzer target: the rnnplast tool's CSV readers (tools/csv.c), which
   sweep's resume and plot use on files that may come from anyone.

   Each input is read (1) as one sweep CSV row (csv_parse_row), (2) as one
   learning-curve row (csv_parse_curve), (3) as a whole sweep CSV
   (csv_read_sweep, plot's reader, through csv_next_line as resume uses it),
   as given and with the header line put in front so that mutations reach
   the rows.  Properties checked beyond "no crash, no sanitizer report, no
   leak":
   - a refused input names a column in range (1..22, or 1..12 / 1..14 as a
     row of an older 11- / 13-column CSV; 1..8 for a curve row, 1..6 for an
     older one)
     and its message holds printable ASCII only (no control byte of the
     input reaches the terminal);
   - an accepted row holds only the bytes a row can hold (letters of the
     names, digits, '.', ',', '+', '-', 'e', 'E') -- so no quote, backquote,
     '@', '$', space or control byte can ever get through to gnuplot -- and
     every field lies in its range (csv.h);
   - an accepted curve row holds only digits, '.', ',', '+', '-', 'e', 'E'
     and the letters of nan and inf;
   - writing an accepted row and reading it back gives the same row, and
     writing it again the same text (the CSV sweep writes is canonical). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *msg)
{
    FZ_REQUIRE(msg[0] != 0, "refused without a message");
    for (const char *p = msg; *p; p++)
        FZ_REQUIRE(*p >= 0x20 && *p < 0x7f, "message holds byte 0x%02x: %s", (unsigned char)*p,
                   msg);
}

static int same_val(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check_row(const csv_row *r)
{
    FZ_REQUIRE((unsigned)r->rule <= RP_RULE_RFLO, "rule %d", (int)r->rule);
    FZ_REQUIRE((unsigned)r->floss < FL_COUNT, "floss %d", (int)r->floss);
    FZ_REQUIRE(isfinite(r->gain) && r->gain >= 0.0, "gain %g", r->gain);
    FZ_REQUIRE(r->seed >= 1, "seed 0");
    FZ_REQUIRE(r->ok == 0 || r->ok == 1, "ok %d", r->ok);
    for (int c = 0; c < CSV_NVAL; c++) {
        double x = r->val[c];
        if (isnan(x))
            continue;
        if (c == CSV_TEST_ACC || c == CSV_RESPONSE || c == CSV_CHOICE)
            FZ_REQUIRE(x >= 0.0 && x <= 1.0, "value %d: %g", c, x);
        else if (c < CSV_TEST_ACC || c == CSV_FTLE_SD_BEFORE || c == CSV_FTLE_SD_AFTER ||
                 c == CSV_DW || c == CSV_PATH)
            FZ_REQUIRE(isfinite(x) && x >= 0.0, "value %d: %g", c, x);
        else
            FZ_REQUIRE(isfinite(x) || x == -INFINITY, "lambda %d: %g", c, x);
    }
    char a[CSV_MAX_LINE + 1], b[CSV_MAX_LINE + 1], err[512];
    int n = csv_format_row(r, a, sizeof a);
    FZ_REQUIRE(n > 0, "an accepted row does not format");
    csv_row back;
    FZ_REQUIRE(csv_parse_row(a, (size_t)n, &back, err, sizeof err) == 0,
               "written row refused: %s: %s", a, err);
    FZ_REQUIRE(back.rule == r->rule && back.floss == r->floss && back.seed == r->seed &&
                   back.ok == r->ok && back.iters == r->iters,
               "round trip of %s", a);
    /* %.6g rounds: the values read back are those of the text written */
    FZ_REQUIRE(csv_format_row(&back, b, sizeof b) == n && strcmp(a, b) == 0,
               "writing is not canonical: %s then %s", a, b);
    csv_row again;
    FZ_REQUIRE(csv_parse_row(b, (size_t)n, &again, err, sizeof err) == 0, "%s", err);
    for (int c = 0; c < CSV_NVAL; c++) {
        FZ_REQUIRE(isnan(back.val[c]) == isnan(r->val[c]), "nan lost in %s", a);
        FZ_REQUIRE(same_val(back.val[c], again.val[c]), "value %d changes on rewriting %s", c, a);
    }
    FZ_REQUIRE(back.gain == again.gain, "gain changes on rewriting %s", a);
}

static void read_file(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return;
    csv_row *rows = NULL;
    size_t n = 0;
    char err[512];
    int st = csv_read_sweep(f, &rows, &n, err, sizeof err);
    fclose(f);
    if (st == 0) {
        FZ_REQUIRE(rows && n > 0, "accepted without rows");
        for (size_t i = 0; i < n; i++)
            check_row(&rows[i]);
    } else {
        FZ_REQUIRE(st == EXIT_USAGE || st == 1, "status %d", st);
        FZ_REQUIRE(rows == NULL && n == 0, "refused but rows returned");
        FZ_REQUIRE(st != EXIT_USAGE || strncmp(err, "line ", 5) == 0, "no line named: %s", err);
        printable(err);
    }
    free(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char err[512];
    csv_row r;
    int c = csv_parse_row(s, size, &r, err, sizeof err);
    if (c == 0) {
        for (size_t i = 0; i < size; i++)
            FZ_REQUIRE(data[i] && strchr("abcdefghijklmnopqrstuvwxyzE0123456789.,+-", data[i]),
                       "accepted row holds byte 0x%02x", data[i]);
        check_row(&r);
    } else {
        FZ_REQUIRE(c >= 1 && c <= CSV_NCOLS + 1, "column %d", c);
        printable(err);
    }
    /* as a row of an older CSV (csv.h: 11 or 13 fields, nan after) */
    for (int old = 0; old < 2; old++) {
        const int nc = old ? CSV_NCOLS_V2 : CSV_NCOLS_V1;
        c = csv_parse_row_n(s, size, nc, &r, err, sizeof err);
        if (c == 0) {
            for (int q = nc - 6; q < CSV_NVAL; q++)
                FZ_REQUIRE(isnan(r.val[q]), "a %d-column row with value %d", nc, q);
            check_row(&r);
        } else {
            FZ_REQUIRE(c >= 1 && c <= nc + 1, "%d-column row: column %d", nc, c);
            printable(err);
        }
    }

    uint64_t iter;
    double tl;
    for (int nc = CURVE_NCOLS_V1; nc <= CURVE_NCOLS; nc += CURVE_NCOLS - CURVE_NCOLS_V1) {
        c = csv_parse_curve(s, size, nc, &iter, &tl, err, sizeof err);
        if (c == 0) {
            for (size_t i = 0; i < size; i++)
                FZ_REQUIRE(data[i] && strchr("naif0123456789.,+-eE", data[i]),
                           "accepted curve row holds byte 0x%02x", data[i]);
        } else {
            FZ_REQUIRE(c >= 1 && c <= nc + 1, "curve column %d", c);
            printable(err);
        }
    }

    read_file(data, size);
    size_t hl = strlen(CSV_COLUMNS) + 1;
    uint8_t *with_header = malloc(hl + size);
    FZ_REQUIRE(with_header != NULL, "malloc");
    memcpy(with_header, CSV_COLUMNS "\n", hl);
    memcpy(with_header + hl, data, size);
    read_file(with_header, hl + size);
    free(with_header);
    return 0;
}
