/* The rnnplast command-line program: shared declarations.  Public API only. */
#ifndef RNNPLAST_TOOL_H
#define RNNPLAST_TOOL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "rnnplast.h"

/* Exit statuses: 0 success, 1 a run failed, 2 bad usage. */
#define EXIT_USAGE 2

/* ---- options (opt.c) --------------------------------------------------- */

typedef enum { OPT_SIZE, OPT_U64, OPT_DOUBLE, OPT_STRING, OPT_FLAG } opt_type;

/* One flag.  A numeric flag carries its accepted range: the parser refuses a
   value outside it (exit 2 naming the flag and the range) and --help shows it. */
typedef struct opt {
    const char *name; /* without the leading "--" */
    opt_type type;
    void *ptr;
    const char *help;
    unsigned long long imin, imax; /* OPT_SIZE, OPT_U64: imin..imax */
    double lo, hi;        /* OPT_DOUBLE: a finite number from lo to hi (+-INFINITY: unbounded) */
    int lo_open, hi_open; /* OPT_DOUBLE: lo / hi themselves excluded */
    int set;              /* set by the parser */
} opt;

#define O_STR(nm, p, h) ((opt){.name = (nm), .type = OPT_STRING, .ptr = (p), .help = (h)})
#define O_FLAG(nm, p, h) ((opt){.name = (nm), .type = OPT_FLAG, .ptr = (p), .help = (h)})
#define O_SIZE(nm, p, mn, mx, h) \
    ((opt){.name = (nm), .type = OPT_SIZE, .ptr = (p), .help = (h), .imin = (mn), .imax = (mx)})
#define O_U64(nm, p, mn, mx, h) \
    ((opt){.name = (nm), .type = OPT_U64, .ptr = (p), .help = (h), .imin = (mn), .imax = (mx)})
/* [lo, hi] with lo_open / hi_open excluding an end. */
#define O_NUM(nm, p, l, lopen, h_, hopen, h) \
    ((opt){.name = (nm),                     \
           .type = OPT_DOUBLE,               \
           .ptr = (p),                       \
           .help = (h),                      \
           .lo = (l),                        \
           .hi = (h_),                       \
           .lo_open = (lopen),               \
           .hi_open = (hopen)})
#define O_END ((opt){.name = NULL})

/* Ranges shared by several flags. */
#define MAX_UNITS 4096          /* --N, --k, --floss-k */
#define MAX_PERIOD (1u << 20)   /* task lengths and periods, --tbptt-k, --t-ons */
#define MAX_BATCH 65536         /* --batch, --test-batch */
#define MAX_COUNT 1000000000ULL /* iteration counts */

/* Strict numbers, for flags and CSV fields alike: an unsigned decimal
   integer (digits only: no sign, space or trailing text; no overflow), or a
   finite decimal number [+-]digits[.digits][(e|E)[+-]digits] (no space, hex,
   inf or nan, nothing after it; underflow reads as 0 or a subnormal).  The
   _n forms read s[0..n), which need not be NUL-terminated.  0 on success,
   -1 otherwise. */
int parse_u64_n(const char *s, size_t n, uint64_t *out);
int parse_ull(const char *s, unsigned long long *out);
int parse_num_n(const char *s, size_t n, double *out);
int parse_num(const char *s, double *out);
/* The shortest %g form that reads back as exactly d (at most 17 digits). */
void fmt_num(double d, char *buf, size_t len);
/* Split the comma list s (copied into buf of len bytes) into at most max
   tokens (empty ones included); returns their count, max + 1 when there are
   more, (size_t)-1 when s does not fit in buf. */
size_t split_list(const char *s, char *buf, size_t len, char **tok, size_t max);
/* a * b and a + b; -1 on size_t overflow. */
int mul_size(size_t a, size_t b, size_t *out);
int add_size(size_t a, size_t b, size_t *out);

/* Parse argv[first..argc) against opts (terminated by a NULL name).
   On a bad flag or value prints one line "rnnplast CMD: ..." and returns 2;
   on --help prints usage and returns -1; else 0. */
int opt_parse(const char *cmd, const char *usage, opt *opts, int argc, char **argv, int first);
/* The option named `name` in opts (NULL if absent). */
opt *opt_find(opt *opts, const char *name);
/* One-line usage error, returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- output files the tool writes itself (outpath.c) -------------------- */

/* Where a write to `path` lands: symlinks are followed (a dangling one too)
   and the directory made canonical (realpath), so that two names of one file
   compare equal.  0, or -1 with errno (e.g. ENOENT: no such directory). */
int out_resolve(const char *path, char *real, size_t len);
/* "a FIFO", "a directory", ... for a stat mode that is not a regular file. */
const char *out_kind_name(mode_t m);
/* Check an output path given to flag `flag` before any work: it must resolve
   (out_resolve, into real) and, if something exists there, be a regular file:
   a directory, FIFO, socket or device is refused.  0, or EXIT_USAGE with a
   one-line message naming the path and what it is. */
int out_check(const char *cmd, const char *flag, const char *path, char *real, size_t len);
/* 1 when the resolved paths a and b name one file: the same string, or one
   existing file (st_dev, st_ino: hard links). */
int out_same(const char *real_a, const char *real_b);

/* A file written whole and then put in place: a fresh temporary in the
   target's own directory (O_EXCL, so never through a symlink), renamed onto
   the resolved target, so a symlink is written through and readers never see
   a half-written file. */
typedef struct outfile {
    FILE *f;
    char path[4096]; /* the resolved target */
    char tmp[4160];
} outfile;
int out_open(outfile *o, const char *path); /* 0, or -1 with errno */
int out_rename(outfile *o); /* flush, put in place, keep o->f open; 0 or -1 (tmp removed) */
int out_commit(outfile *o); /* out_rename and close; 0 or -1 */
void out_abort(outfile *o); /* close and remove the temporary */

/* An exclusive, non-blocking lock on the sibling file `real`.lock (created;
   removed by out_unlock).  0: locked (*fd), 1: another process holds it,
   -1: error (errno). */
int out_lock(const char *real, char *lockpath, size_t len, int *fd);
void out_unlock(int fd, const char *lockpath);

/* ---- names ------------------------------------------------------------- */

int parse_task(const char *s, rp_task_kind *k);
int parse_rule(const char *s, rp_rule_kind *k);
const char *rule_name(rp_rule_kind k);
int parse_form(const char *s, rp_form *f);
int parse_act(const char *s, rp_activation *a);
int parse_optim(const char *s, rp_optim_kind *o);

/* Flossing mode: off, local, exact, or "on" = local for e-prop/RFLO and exact
   for BPTT-family rules (MODEL.md §9.3); or one of the two controls that
   replace pre-flossing: "rescale" (W scaled once, before training, so that
   lambda_max reaches the flossing target) and "extra" (floss_iters more task
   iterations before training). */
typedef enum {
    FL_OFF = 0,
    FL_LOCAL = 1,
    FL_EXACT = 2,
    FL_ON = 3,
    FL_RESCALE = 4,
    FL_EXTRA = 5
} floss_kind;
#define FL_COUNT 6
int parse_floss(const char *s, floss_kind *f);
const char *floss_name(floss_kind f);
typedef enum { FP_PRE = 0, FP_INTER = 1, FP_DURING = 2 } floss_phase;
#define FOPT_SHARED (-1) /* run_cfg.floss_optim: the task's optimizer */
int parse_phase(const char *s, floss_phase *p);
const char *phase_name(floss_phase p);

/* Feedback of e-prop, RFLO and ModProp (--feedback, sweep --feedbacks, the
   CSV's feedback column): FB_DEFAULT the rule's own (e-prop and ModProp
   symmetric, RFLO random, as before these flags), or one chosen; FB_NONE
   the CSV's word for a rule without feedback (bptt, tbptt, rtrl). */
enum { FB_DEFAULT = 0, FB_SYMMETRIC = 1, FB_RANDOM = 2, FB_NONE = 3 };
int parse_feedback(const char *s, int *fb); /* symmetric | random | none */
const char *feedback_name(int fb);          /* "symmetric", "random", "none" ("?" else) */
int rule_has_feedback(rp_rule_kind r);      /* e-prop, RFLO, ModProp */
int rule_default_feedback(rp_rule_kind r);  /* FB_SYMMETRIC, FB_RANDOM or FB_NONE */
/* ---- psychometric curves (psycho.c) ------------------------------------ */

/* After training, the net is scored on psy.trials fresh test trials at each
   coherence of psy.coh (2af, cxt; psy.n = 0: off).  The trials are drawn
   with seed SEED_PSY at every coherence (common random numbers: the same
   answers and noise, only the coherence differs), from the run's task with
   its coherence set replaced by {c}, through a noise-free copy of the net. */
#define PSY_MAX 32
#define PSY_DEFAULT_TRIALS 200
#define SEED_PSY 246813579ULL
typedef struct psy_cfg {
    size_t n, trials;
    double coh[PSY_MAX];
} psy_cfg;
/* One coherence: n trials, response rate and choice accuracy (the
   library's rp_task_score_choices over the n trials), and for the trials
   whose answer is side 1 (n1 of them) and side 2 (n2) the fraction that
   chose side 2.  NAN where not measured (the net's output not finite). */
typedef struct psy_stat {
    double coh, resp, acc, p2_a1, p2_a2;
    size_t n, n1, n2;
} psy_stat;

/* ---- one training run (run.c) ------------------------------------------ */

typedef struct run_cfg {
    rp_task_kind task;
    rp_task_config tcfg;
    rp_rule_kind rule;
    size_t tbptt_k;
    double gain, alpha, noise;
    size_t N;
    rp_form form;
    rp_activation act;
    rp_optim_kind optim;
    double lr;    /* <= 0: the rule's default */
    int feedback; /* FB_DEFAULT (the rule's own), FB_SYMMETRIC or FB_RANDOM (e-prop, RFLO, ModProp) */
    double clip;
    size_t iters, batch, eval_every, test_batch, lyap_trials;
    size_t lyap_k;      /* exponents of the concatenated-trial lambda_max (default 1) */
    size_t ftle_trials; /* trials of the trial-based FTLE (measure_ftle; default 16) */
    size_t ftle_k;      /* its exponents, clamped to N (default 4) */
    uint64_t seed;
    floss_kind floss;
    floss_phase phase;
    size_t floss_k, floss_iters, floss_every;
    double floss_target, floss_beta;
    /* The optimizer of flossing-only steps (phases pre and inter):
       floss_optim FOPT_SHARED (the task's optimizer, as before) or an
       rp_optim_kind (one of its own); floss_lr and floss_clip NAN: the
       task's; floss_w_only 1: flossing moves W alone (0: every parameter its
       gradient reaches). */
    int floss_optim;
    double floss_lr, floss_clip;
    int floss_w_only;
    /* ModProp (--rule modprop): mu (NAN: the library's default) and the cell
       types of the N units (has_types 0: the library's default, one type) */
    double modprop_mu;
    int has_types;
    unsigned cell_types[MAX_UNITS];
    psy_cfg psy;            /* psychometric curves after training (psy.n 0: none) */
    rp_precision precision; /* --precision (default double) */
} run_cfg;

typedef struct run_result {
    double test_loss, test_acc; /* on test_batch fresh trials at the end */
    double response_rate,
        choice_acc; /* the same trials, one choice per trial (rp_task_score_choices) */
    double lam_before, lam_after; /* lambda_max per step, task-driven */
    double train_loss;            /* last training batch */
    /* trial-based finite-time exponents (measure_ftle), per step: mean and
       s.d. over trials of lambda_1, and the delay period's local exponent */
    double ftle_before, ftle_after, ftle_sd_before, ftle_sd_after, delay_before, delay_after;
    double dw_rel, path_rel; /* |W_final - W_init|_F and sum |dW|_F, over |W_init|_F (csv.h) */
    size_t iters_done;
    size_t floss_steps;  /* flossing-only steps taken (phases pre and inter) */
    double floss_scale;  /* --floss rescale: the factor W was scaled by (else NAN) */
    size_t rescale_meas; /* --floss rescale: lambda_max measurements it took */
    int ok;              /* 0: the run stopped early (see msg) */
    char msg[256];
    int stopped;  /* 1: paused by run_ckpt (stop_after or *stop), checkpoint written */
    size_t psy_n; /* rc->psy.n when measured; its rows (NAN: not measured) */
    psy_stat psy[PSY_MAX];
} run_result;

void run_cfg_default(run_cfg *rc);
double default_lr(rp_rule_kind r);

/* Progress callback: done out of total iterations. */
typedef void (*progress_fn)(void *ctx, size_t done, size_t total);

/* Train one network.  curve (may be NULL) receives the learning curve CSV;
   model_out (may be NULL) the trained network via rp_net_save (a failure is
   reported in res->msg but does not fail the run: *saved says whether it
   worked).  Returns 0, or 1 when the run could not be set up (res->msg). */
int run_one(const run_cfg *rc, run_result *res, FILE *curve, const char *model_out, int *saved,
            progress_fn prog, void *prog_ctx);

/* Checkpoints of one run (train --checkpoint/--resume).  A run resumed from
   its checkpoint ends bit-identical to one never stopped: the checkpoint
   (rp_checkpoint_save) holds net, optimizer and rule, and as user data the
   run's settings (a resume with other settings is refused), lambda_max
   before training, the last flossing F and training loss, and the learning
   curve so far, which the resumed run writes out again before its own rows. */
typedef struct run_ckpt {
    const char *path;            /* written every `every` iterations and at the end (NULL: none) */
    size_t every;                /* 0: only at the end */
    const char *resume;          /* continue from this checkpoint (NULL: a fresh run) */
    size_t stop_after;           /* > 0: pause after this many iterations of this call */
    volatile sig_atomic_t *stop; /* non-zero (a signal handler's flag): pause after the iteration */
} run_ckpt;

/* run_one with checkpoints (ck may be NULL: run_one).  A paused run has
   res->stopped = 1, res->ok = 1 and no model or lambda_max after. */
int run_one_ck(const run_cfg *rc, const run_ckpt *ck, run_result *res, FILE *curve,
               const char *model_out, int *saved, progress_fn prog, void *prog_ctx);

/* One task trial's arrays for the Lyapunov measurements (lyap.c): x
   (T*n_in, at least 1), target (T*n_out, or T for CE) and mask (T).
   trial_io_alloc: 0, or 1 with msg (nothing to free). */
typedef struct trial_io {
    size_t n_in, T;
    double *x, *tg, *m;
} trial_io;
int trial_io_alloc(const rp_task *task, trial_io *io, char *msg, size_t msglen);
void trial_io_free(trial_io *io);

/* Lambda_max of net driven by `trials` task trials (seeds from seed); a
   single-precision net is measured in float, on the net itself. */
int measure_lmax(rp_net *net, rp_task *task, size_t trials, uint64_t seed, size_t k, double *out,
                 char *msg, size_t msglen);

/* Trial-based finite-time Lyapunov exponents (lyap.c; MODEL.md §6): each of
   `trials` task trials (seeds seed, seed + 1, ...) is run from net's initial
   state (rp_lyap_reset) on its own inputs, with k exponents (k <= n_rec),
   t_ons 1, the first T/4 steps a transient and one basis Q0 for all trials.  mean, sd: mean and sample
   s.d. (0 for one trial) over trials of the trial's lambda_1 (the largest
   of its k exponents: more directions find the leading growth of a short
   trajectory better than one); delay: the local exponent of the first
   direction averaged over the steps [d0, d1) of every trial (NAN when
   d1 <= d0).  All per step.  per_trial (may be NULL) receives each trial's
   k exponents (trials*k doubles, descending).  0, or 1 with msg. */
typedef struct ftle_stats {
    double mean, sd, delay;
} ftle_stats;
int measure_ftle(const rp_net *net, const rp_task *task, size_t trials, uint64_t seed, size_t k,
                 size_t d0, size_t d1, ftle_stats *out, double *per_trial, char *msg,
                 size_t msglen);
/* The delay period [*d0, *d1) of a trial of task kind `kind` (2af, dms,
   cxt: after fixation and stimulus/sample); *d0 = *d1 = 0 for the others. */
void task_delay_window(rp_task_kind kind, const rp_task_config *t, size_t *d0, size_t *d1);
/* The seed of the trial-based FTLE's first trial (run.c and rnnplast lyap). */
#define SEED_FTLE 777000ULL
/* Seeds of the streams a run uses (run.c), derived from its seed so that
   runs differ only where they should; rnnplast floss-cosine builds the same
   nets.  The test set and the Lyapunov inputs do not depend on the run's
   seed: every run is scored on the same trials. */
#define SEED_U(s) ((s)*0x9E3779B97F4A7C15ULL + 11)
#define SEED_V(s) ((s)*0x9E3779B97F4A7C15ULL + 12)
#define SEED_FB(s) ((s)*0x9E3779B97F4A7C15ULL + 13)
#define SEED_TRAIN(s, it) ((s)*1000003ULL + 1000ULL + (it))
#define SEED_FLOSS(s, it) ((s)*1000003ULL + 500000ULL + (it))

/* ---- provenance (provenance.c) ------------------------------------------ */

/* The commit the tool was built from: RP_TOOL_COMMIT, set by the Makefile
   (git rev-parse --short=12 HEAD, "-dirty" when tracked files differ from
   it), "unknown" when built outside git. */
const char *prov_commit(void);
/* Keep the command line (main calls it once; later calls are ignored). */
void prov_init(int argc, char **argv);
/* The provenance comment lines of every CSV the tool writes, each ending in
   '\n' and at most PROV_MAX_LINE bytes of printable ASCII:
     # built: librnnplast <version>, rnnplast commit <commit>
     # command: <argv, each argument shell-quoted>
   An argument is written as is when it holds only [A-Za-z0-9_@%+=:,./-],
   in single quotes (' as '\'') when it holds other printable ASCII, and in
   $'...' (bash, ksh, zsh, POSIX.1-2024 sh) with \xNN for every byte outside
   printable ASCII, \' and \\ when it holds any such byte, so no byte of the
   command can break a line of the CSV.  A command longer than one line
   goes on "# command (continued): " lines, split between arguments (an
   argument longer than a line alone is cut and the cut said).  Returns the
   text (malloc'ed), or NULL when out of memory. */
#define PROV_MAX_LINE 1024
char *prov_lines(void);
/* Whether the comment line s (no newline) is a provenance line (built or
   command). */
int prov_is_line(const char *s);
/* The commit named by the provenance line s ("# built: ...") into buf (only
   [0-9a-f], "-dirty" or "unknown" accepted: a token from a hostile file is
   never reproduced); 0, or -1 when s is not a valid built line. */
int prov_line_commit(const char *s, char *buf, size_t len);

/* ---- progress (progress.c) ------------------------------------------- */

typedef struct progress {
    const char *label;
    int tty;
    double t0, last;
} progress;
void progress_init(progress *p, const char *label);
void progress_update(void *p, size_t done, size_t total);
void progress_done(progress *p);
double now_seconds(void);

/* ---- subcommands (train.c, lyap.c, sweep.c, plot.c, claims.c) ---------- */

int cmd_train(int argc, char **argv);
int cmd_lyap(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_claims(int argc, char **argv);
int cmd_select(int argc, char **argv);       /* select.c */
int cmd_floss_cosine(int argc, char **argv); /* flosscos.c */
int cmd_psycho(int argc, char **argv);

/* Periods in units of tau and noise as continuous-time intensities
   (units.c; MODEL.md §8): --delay-tau ... (UNITS_NPER periods) and
   --sigma-ct, --noise-ct, converted with dt/tau = 1 - alpha. */
#define UNITS_NPER 8
typedef struct units_opts {
    double tau[UNITS_NPER];
    double sigma_ct, noise_ct;
} units_opts;
struct run_opts;
/* After add_run_opts (appends, returns the new count). */
size_t add_units_opts(opt *opts, size_t n, units_opts *u);
/* Before apply_run_opts: each flag given in tau (continuous time) becomes
   the step (per-step) flag it stands for, as if that had been given, so the
   run is exactly the one of those values; the values used are printed on
   stderr.  0, or EXIT_USAGE with a message. */
int apply_units_opts(const char *cmd, opt *opts, run_cfg *rc, struct run_opts *ro);
/* One line: the task's periods in steps and in tau (nothing for a task
   without periods). */
void print_periods_tau(FILE *out, const run_cfg *rc);

/* Psychometric options (psycho.c): --psychometric FILE, --psy-coherences,
   --psy-trials; apply checks them into rc->psy (task 2af or cxt) and the
   output path (its resolved form into real). */
typedef struct psy_opts {
    const char *path, *coh;
    size_t trials;
    char real[4096];
} psy_opts;
size_t add_psy_opts(opt *opts, size_t n, psy_opts *po, int with_path);
int apply_psy_opts(const char *cmd, opt *opts, psy_opts *po, run_cfg *rc);
/* train --psychometric: the run's rows into po->path (0, or 1 with a message). */
int psy_write_run(const char *cmd, const psy_opts *po, const run_cfg *rc, const run_result *res);
/* The psychometric rows of the network src (its parameters, copied into a
   noise-free network of pc->trials trials) on task kind with tcfg into
   out[0 .. pc->n).  0; or 1 with msg when it could not be set up (out[]
   all NAN). */
int psy_eval(const rp_net *src, rp_task_kind kind, const rp_task_config *tcfg, const psy_cfg *pc,
             psy_stat *out, char *msg, size_t msglen);
/* The rows as a table on out. */
void psy_print_table(FILE *out, const psy_cfg *pc, const psy_stat *s);
/* The hook of run.c: the rows of the trained net into res (NAN on failure;
   the run's own result untouched). */
void psy_run(const rp_net *net, const run_cfg *rc, run_result *res);

/* Shared option table pieces for train and sweep (opt.c): fills opts[] from
   *n on and returns the new count; apply_run_opts turns the parsed strings
   into rc. */
typedef struct run_opts {
    char *task, *rule, *form, *act, *optim, *floss, *phase, *coherences, *cell_types;
    char *floss_optim, *floss_params, *precision;
    size_t delay, T, t1, t2, fixation, stimulus, test, decision;
    double sigma, dt_tau, fix_weight;
    units_opts units;
} run_opts;
size_t add_run_opts(opt *opts, size_t n, run_cfg *rc, run_opts *ro, int grid);
/* --cell-types: "ei:F" (the first round(F N) units type 0, the rest type 1;
   F a number in [0, 1]) or the path of a regular file of N unsigned decimal
   integers, each below N, separated by white space.  0, or -1 with a message
   in err. */
int parse_cell_types(const char *spec, size_t N, unsigned *types, char *err, size_t errlen);
int apply_run_opts(const char *cmd, opt *opts, run_cfg *rc, run_opts *ro, int grid);
/* --precision single with a rule or flossing mode that has no float kernel:
   a usage error naming it (EXIT_USAGE); 0 otherwise. */
int precision_refuses(const char *cmd, rp_precision prec, rp_rule_kind rule, floss_kind fl);

/* ---- sweep (sweep.c; the MPI driver tools/mpi/sweep_mpi.c shares it) ---- */

typedef struct sweep_job {
    rp_rule_kind rule;
    double gain;
    floss_kind floss;
    uint64_t seed;
    char *row; /* the CSV line (no newline) once finished */
    pid_t pid; /* running forked worker, 0 otherwise (serial driver) */
    int fd;    /* read end of its pipe (serial driver) */
    /* sweep --feedbacks / --lrs (sweep.axes): the run's feedback (FB_*,
       FB_NONE for a rule without) and learning rate; 0 and 0 otherwise */
    int fb;
    double lr;
} sweep_job;

typedef struct sweep {
    run_cfg rc; /* everything but the grid */
    const char *out_path, *curves;
    char out_real[4096];     /* out_path resolved (out_resolve): what is written */
    char lock_path[4104];    /* out_real.lock, held while the CSV is written */
    int lock_fd;             /* -1: no lock held */
    sweep_job *jobs;         /* ordered rule, gain, floss, [feedback, lr,] seed */
    int axes;                /* --feedbacks or --lrs given: the CSV has their columns */
    size_t nj, nseeds, kept; /* kept: rows found on resume */
    size_t jobs_n, threads, stop_after;
    int quiet, oversubscribe;
    double mpi_timeout; /* MPI: seconds of silence before a rank is presumed dead */
    char cfgline[2048]; /* the CSV's first line */
    char *prov;         /* the provenance lines after it (sweep_open; malloc'ed) */
    size_t nbuilds;     /* distinct "# built:" lines among them (> 1: a resume across builds) */
    FILE *out;          /* the CSV, open for appending (sweep_open) */
    progress prog;
    size_t finished, errors;
    struct psy_sweep *psy; /* --psychometric (psycho.c; NULL: none) */
} sweep;

/* One run of job j in this process, with the current BLAS thread count; its
   learning curve goes to s->curves if set.  res->ok is -1 when the run could
   not be set up (res->msg).  Both drivers call it: one run -> one row. */
void sweep_run(const sweep *s, const sweep_job *j, run_result *res);
/* Job j's result: its row appended to the CSV and flushed (or the failure
   reported and counted in s->errors), progress updated. */
void sweep_record(sweep *s, sweep_job *j, const run_result *res);
/* Check the output paths (--out a regular file or nothing, --curves a
   directory or nothing, no curve file that is something else; exit 2), take
   the lock on --out (exit 1 if another sweep holds it), create the curves
   directory, keep the rows of a previous run of the same configuration,
   rewrite the CSV with them and keep it open for appending.  The process
   that calls it writes the CSV and holds the lock until sweep_free.
   Returns 0, or the exit status (message printed). */
int sweep_open(sweep *s);
/* After the runs: the CSV in canonical order if complete, the summary table,
   everything freed.  Returns the exit status. */
int sweep_close(sweep *s);
/* Frees the jobs and closes the CSV (sweep_close calls it). */
void sweep_free(sweep *s);
/* sweep --feedbacks / --lrs (sweep_axes.c): the lists given, and for each
   rule the (feedback, lr) pairs its runs take. */
#define MAX_LRS 16
typedef struct axes_list {
    int on;     /* either flag given */
    int fbs[2]; /* FB_SYMMETRIC / FB_RANDOM; nfb 0: each rule's own */
    size_t nfb;
    double lrs[MAX_LRS]; /* nlr 0: --lr's, or each rule's default */
    size_t nlr;
} axes_list;
/* Parses the two lists (NULL: not given); lr_set: --lr given too (refused
   with --lrs).  0, or EXIT_USAGE with the message printed. */
int sweep_axes_parse(const char *fbs, const char *lrs, int lr_set, axes_list *ax);
/* The (feedback, lr) pairs of rule r: 1 when the axes are off. */
size_t sweep_axes_count(const axes_list *ax, rp_rule_kind r);
/* Sets j->fb and j->lr to rule j->rule's pair v (nothing when off); rc: --lr. */
void sweep_axes_job(const axes_list *ax, const run_cfg *rc, size_t v, sweep_job *j);
/* The sweep's psychometric file (psycho.c): checked and opened by sweep_open
   after the kept rows are read (a kept run without its psychometric rows is
   run again), a run's rows appended by sweep_record, rewritten in canonical
   order by sweep_close, freed by sweep_free. */
int psy_sweep_init(sweep *s, const psy_opts *po);
int psy_sweep_open(sweep *s);
int psy_sweep_start(sweep *s); /* the file with the kept rows, open for appending */
void psy_sweep_record(sweep *s, const sweep_job *j, const run_result *res);
void psy_sweep_close(sweep *s, int complete);
void psy_sweep_free(sweep *s);
/* The MPI driver (tools/mpi/sweep_mpi.c, built by `make mpi`). */
int sweep_mpi(sweep *s);

#endif
