/* The sweep CSV: its one schema, shared by the writer and resume (sweep.c),
   plot (plot.c) and the fuzz target (fuzz/fuzz_csv_row.c).

   A sweep CSV is: comment lines starting with '#' (the first is the sweep's
   configuration), the header line CSV_COLUMNS, then one row per run, each
   line ending in '\n'.  A row has exactly the 21 fields below, no quoting and
   no spaces; a field is valid only in this form:
     rule           bptt | tbptt | rtrl | eprop | rflo
     gain           a decimal number >= 0
     floss          off | local | exact | on, or a control run in place of
                    pre-flossing: rescale | extra (train --help; files
                    written before them simply lack these values)
     seed           an integer >= 1
     ok             0 or 1 (1: the run did all its iterations)
     iters          an integer (iterations done)
     train_loss, test_loss   a decimal number >= 0, or nan (no value)
     test_acc       a decimal number in [0, 1], or nan (a regression task)
     lambda_before, lambda_after   a decimal number, -inf (a Jacobian that
                    maps every direction to 0), or nan (no value: the
                    trajectory overflowed, e.g. a chaotic relu net in float,
                    whose state grows past 3.4e38 over the concatenated
                    trials; the run is trained and ok as without it).
                    lambda_max per step
                    on --lyap-trials concatenated trials (one trajectory, no
                    reset, the first trial a transient; --lyap-k exponents,
                    the largest kept; run.c measure_lmax)
     response_rate, choice_acc   a decimal number in [0, 1], or nan (a task
                    without a decision period: regression tasks).  One choice
                    per test trial (choice.h): response_rate = fraction of
                    trials whose choice is not "fixate", choice_acc = fraction
                    of ALL trials whose choice is the correct one.
     ftle_before, ftle_after   trial-based finite-time exponents (lyap.c
                    measure_ftle), before training and after: the mean over
                    --ftle-trials fresh task trials (fixed seeds, the same for
                    every run) of each trial's largest exponent lambda_1, per
                    step, each trial from the net's initial state
                    (rp_lyap_reset), driven by its own inputs, --ftle-k
                    exponents (at most N), the first T/4 steps a transient
                    (the flossing window's, run.c).  A decimal number, -inf
                    or nan (the measurement failed: a trajectory overflowed)
     ftle_sd_before, ftle_sd_after   the sample s.d. over those trials of
                    lambda_1 (0 for one trial); a decimal number >= 0 or nan
     delay_lambda_before, delay_lambda_after   the local exponent of the
                    first direction (rp_lyap_get_local, t_ons 1) averaged over
                    the delay period's steps and the trials, per step: the
                    growth per step of the leading perturbation while the
                    network holds its memory.  A decimal number, -inf, or nan
                    (a task or configuration without a delay period)
     dw_rel         |W_final - W_init|_F / |W_init|_F, W_init the initialized
                    W (before any flossing); a decimal number >= 0, nan when
                    |W_init|_F = 0 (gain 0)
     path_rel       the distance W travelled, sum over every optimizer step
                    (training and flossing) of |W_after - W_before|_F, over
                    |W_init|_F (>= dw_rel by the triangle inequality); a
                    decimal number >= 0, nan when |W_init|_F = 0 or for a run
                    resumed from a checkpoint of an older rnnplast
   Two more columns, only in a sweep run with --feedbacks or --lrs (header
   CSV_COLUMNS_AXES, 23 columns; every other sweep writes the 21 above):
     feedback       symmetric | random (e-prop, RFLO, ModProp: the feedback
                    the run used) | none (a rule without feedback)
     lr             a decimal number > 0: the run's task learning rate
   A row of a 21-column (or older) file has neither: fb 0 and lr 0 in
   csv_row, and claims and plot group as before.
   Units: the CSV holds lambda per step.  Per tau (MODEL.md §1, §6): lambda
   per step / (dt/tau) = lambda per step / (1 - alpha); over the delay:
   lambda per step x delay (steps) = the log growth across the delay.  The
   sweep's summary derives both (alpha and the delay are in the first line)
   and gives the periods in steps and in tau (steps x (1 - alpha)) after its
   tables.  Periods given in tau (--delay-tau ...) and noise as
   continuous-time intensities (--sigma-ct, --noise-ct) are stored as the
   steps and per-step values they stand for: such a sweep's CSV is the one
   of those values (MODEL.md §8).  Psychometric rows (--psychometric) go to
   a file of their own (psycho.c), never into this one.
   Provenance (comment lines after the first): "# built: ..." (library
   version and the commit the tool was built from) and "# command: ..." (the
   command line, shell-quoted: provenance.h); a resumed sweep keeps those of
   the file it resumed and adds its own when they differ.
   Older files: a CSV whose header is CSV_COLUMNS_V1 (11 columns, before
   response_rate and choice_acc) or CSV_COLUMNS_V2 (13 columns, before the
   ftle_* ... path_rel columns) is read by plot and resumed by sweep; its
   rows must then have exactly 11 (13) fields, and the missing values are
   nan (a resumed old CSV is rewritten in the 21-column form with nan there:
   the kept runs are not rerun).
   A decimal number is [+-]digits[.digits][(e|E)[+-]digits], finite (no hex,
   no inf, no spaces).  nan is also read as -nan (glibc's %g of a negative
   NaN); the writer prints nan for every value the schema cannot hold. */
#ifndef RNNPLAST_CSV_H
#define RNNPLAST_CSV_H

#include "tool.h"

#define CSV_COLUMNS_V1 \
    "rule,gain,floss,seed,ok,iters,train_loss,test_loss,test_acc,lambda_before,lambda_after"
#define CSV_NCOLS_V1 11
#define CSV_COLUMNS_V2 CSV_COLUMNS_V1 ",response_rate,choice_acc"
#define CSV_NCOLS_V2 13
#define CSV_COLUMNS                                                                            \
    CSV_COLUMNS_V2 ",ftle_before,ftle_after,ftle_sd_before,ftle_sd_after,delay_lambda_before," \
                   "delay_lambda_after,dw_rel,path_rel"
#define CSV_NCOLS 21
#define CSV_COLUMNS_AXES CSV_COLUMNS ",feedback,lr"
#define CSV_NCOLS_AXES 23
/* Longest line read; a longer one is refused, never split. */
#define CSV_MAX_LINE 4096 /* the configuration line is up to 2047 */

enum {
    CSV_TRAIN_LOSS,
    CSV_TEST_LOSS,
    CSV_TEST_ACC,
    CSV_LAM_BEFORE,
    CSV_LAM_AFTER,
    CSV_RESPONSE,
    CSV_CHOICE,
    CSV_FTLE_BEFORE,
    CSV_FTLE_AFTER,
    CSV_FTLE_SD_BEFORE,
    CSV_FTLE_SD_AFTER,
    CSV_DELAY_BEFORE,
    CSV_DELAY_AFTER,
    CSV_DW,
    CSV_PATH,
    CSV_NVAL
};

typedef struct csv_row {
    rp_rule_kind rule;
    double gain;
    floss_kind floss;
    uint64_t seed;
    int ok;
    uint64_t iters;
    double val[CSV_NVAL]; /* NAN: no value */
    int fb;               /* FB_SYMMETRIC, FB_RANDOM, FB_NONE; 0: no feedback column */
    double lr;            /* > 0; 0: no lr column (fb and lr are both present or both 0) */
    int single;           /* 1: the file's first line says precision=single (csv_read_sweep) */
} csv_row;

/* Parses the row s[0..len) (no newline; may hold any byte, NUL included).
   Returns 0, or the 1-based column of the first bad field (CSV_NCOLS + 1:
   too many fields) with "column C (name): expected ..., got '...'" in err
   (the bad text escaped: no control byte reaches the terminal). */
int csv_parse_row(const char *s, size_t len, csv_row *r, char *err, size_t errlen);
/* csv_parse_row for a row of a file whose header has ncols columns
   (CSV_NCOLS_AXES, CSV_NCOLS, CSV_NCOLS_V2 or CSV_NCOLS_V1: the values of
   the columns it lacks are nan, fb and lr 0). */
int csv_parse_row_n(const char *s, size_t len, int ncols, csv_row *r, char *err, size_t errlen);
/* The number of columns of the header s[0..len): CSV_NCOLS_AXES for
   CSV_COLUMNS_AXES, CSV_NCOLS for CSV_COLUMNS,
   CSV_NCOLS_V2 for CSV_COLUMNS_V2, CSV_NCOLS_V1 for CSV_COLUMNS_V1, 0 if it
   is none of them. */
int csv_header_cols(const char *s, size_t len);

/* A learning curve CSV (train --curve, sweep --curves): comment lines
   starting with '#' (provenance, as in the sweep CSV), the header
   CURVE_COLUMNS, then rows of 7 fields, iter an integer and each other field
   empty, a decimal number, nan, -nan, inf or -inf.  Older curves (header
   CURVE_COLUMNS_V1, no comment lines) have 5 fields a row.  Parses the row
   s[0..len) of a file with ncols columns (CURVE_NCOLS or CURVE_NCOLS_V1)
   into *iter and *test_loss (NAN if empty); returns 0 or the bad column as
   csv_parse_row does. */
#define CURVE_COLUMNS_V1 "iter,train_loss,test_loss,test_acc,floss_F"
#define CURVE_NCOLS_V1 5
#define CURVE_COLUMNS CURVE_COLUMNS_V1 ",response_rate,choice_acc"
#define CURVE_NCOLS 7
int csv_parse_curve(const char *s, size_t len, int ncols, uint64_t *iter, double *test_loss,
                    char *err, size_t errlen);
/* The number of columns of the curve header s[0..len) (CURVE_NCOLS or
   CURVE_NCOLS_V1), 0 if it is neither. */
int csv_curve_header_cols(const char *s, size_t len);

/* Writes row r (no newline) into buf, with the feedback and lr columns when
   r->fb is not 0; returns the length, or -1 if it does not fit. */
int csv_format_row(const csv_row *r, char *buf, size_t len);
/* The learning-curve file of one run in the sweep's --curves directory dir
   (written by sweep, read by plot); snprintf's result. */
int csv_curve_path(char *buf, size_t len, const char *dir, rp_rule_kind rule, double gain,
                   floss_kind floss, uint64_t seed);
/* The same for a run of a sweep with --feedbacks/--lrs: fb 0 gives
   csv_curve_path's name, else it ends _FEEDBACK_lrLR.csv (lr with %g). */
int csv_curve_path_axes(char *buf, size_t len, const char *dir, rp_rule_kind rule, double gain,
                        floss_kind floss, uint64_t seed, int fb, double lr);

/* A line reader that never splits a line: lines longer than CSV_MAX_LINE
   are reported as such and skipped whole. */
typedef struct csv_reader {
    FILE *f;
    size_t lineno; /* of the line last returned, 1-based */
    char buf[CSV_MAX_LINE + 1];
} csv_reader;

enum { CSV_EOF = 0, CSV_LINE = 1, CSV_LONG = 2 };
/* The next line: CSV_LINE with it in r->buf[0..*len) (newline removed,
   NUL-terminated but possibly holding NULs) and *complete = 1 if it ended in
   '\n' (0: the last line of a file cut short); CSV_LONG for a line longer
   than CSV_MAX_LINE (skipped); CSV_EOF at the end or on a read error
   (ferror tells). */
int csv_next_line(csv_reader *r, size_t *len, int *complete);

/* The whole sweep CSV in f for plot: comments skipped, the header required
   before the first row, every row valid.  Returns 0 with *rows (malloc'ed)
   and *n set; EXIT_USAGE for a malformed file with "LINE: column C (name):
   ..." in err; 1 on a read error or no memory (err set). */
int csv_read_sweep(FILE *f, csv_row **rows, size_t *n, char *err, size_t errlen);

#endif
