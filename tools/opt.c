/* Command-line options, names of the library's enumerations, and the run
   options shared by `train` and `sweep`. */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "rnnplast %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see rnnplast %s --help)\n", cmd);
    return EXIT_USAGE;
}

opt *opt_find(opt *opts, const char *name)
{
    for (opt *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

int parse_u64_n(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        /* digits only: strtoull would take a sign and spaces (" -1" is 2^64 - 1) */
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = 10 * x + d;
    }
    *out = x;
    return 0;
}

int parse_ull(const char *s, unsigned long long *out)
{
    uint64_t u;
    if (parse_u64_n(s, strlen(s), &u))
        return -1;
    *out = u;
    return 0;
}

/* The grammar is checked by hand first so that strtod's other forms (hex,
   inf, nan, spaces, locale) never get in. */
int parse_num_n(const char *s, size_t n, double *out)
{
    char tmp[48];
    size_t i = 0, digits = 0;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return -1;
    }
    if (i != n)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end;
    double x = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(x)) /* underflow to 0 or a subnormal is fine */
        return -1;
    *out = x;
    return 0;
}

int parse_num(const char *s, double *out) { return parse_num_n(s, strlen(s), out); }

void fmt_num(double d, char *buf, size_t len)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

int mul_size(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

int add_size(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return -1;
    *out = a + b;
    return 0;
}

size_t split_list(const char *s, char *buf, size_t len, char **tok, size_t max)
{
    if (strlen(s) >= len)
        return (size_t)-1;
    strcpy(buf, s);
    size_t n = 0;
    for (char *p = buf; p;) {
        if (n == max)
            return max + 1;
        tok[n++] = p;
        char *c = strchr(p, ',');
        if (c)
            *c++ = 0;
        p = c;
    }
    return n;
}

/* The range of a numeric option as --help and the messages show it. */
static void range_str(const opt *o, char *buf, size_t len)
{
    if (o->type != OPT_DOUBLE) {
        snprintf(buf, len, "%llu..%llu", o->imin, o->imax);
        return;
    }
    char l[32], h[32];
    fmt_num(o->lo, l, sizeof l);
    fmt_num(o->hi, h, sizeof h);
    if (isinf(o->lo) && isinf(o->hi))
        snprintf(buf, len, "any finite number");
    else if (isinf(o->hi))
        snprintf(buf, len, "%s %s", o->lo_open ? ">" : ">=", l);
    else
        snprintf(buf, len, "%c%s, %s%c", o->lo_open ? '(' : '[', l, h, o->hi_open ? ')' : ']');
}

static int parse_value(const char *cmd, opt *o, const char *v)
{
    char range[96];
    switch (o->type) {
    case OPT_SIZE:
    case OPT_U64: {
        unsigned long long u;
        int bad = parse_ull(v, &u) != 0 || u < o->imin || u > o->imax ||
                  (o->type == OPT_SIZE && u > SIZE_MAX);
        if (bad) {
            range_str(o, range, sizeof range);
            return usage_error(cmd, "--%s: expected an integer in %s, got '%s'", o->name, range, v);
        }
        if (o->type == OPT_SIZE)
            *(size_t *)o->ptr = (size_t)u;
        else
            *(uint64_t *)o->ptr = (uint64_t)u;
        break;
    }
    case OPT_DOUBLE: {
        double d;
        int bad = parse_num(v, &d) != 0 || (o->lo_open ? !(d > o->lo) : !(d >= o->lo)) ||
                  (o->hi_open ? !(d < o->hi) : !(d <= o->hi));
        if (bad) {
            range_str(o, range, sizeof range);
            return usage_error(cmd, "--%s: expected %s%s, got '%s'", o->name,
                               isinf(o->lo)   ? ""
                               : isinf(o->hi) ? "a number "
                                              : "a number in ",
                               range, v);
        }
        *(double *)o->ptr = d;
        break;
    }
    case OPT_STRING:
        *(const char **)o->ptr = v;
        break;
    case OPT_FLAG:
        *(int *)o->ptr = 1;
        break;
    }
    o->set = 1;
    return 0;
}

static void print_usage(const char *usage, const opt *opts)
{
    printf("%s\n\nOptions:\n", usage);
    for (const opt *o = opts; o->name; o++) {
        char left[64], range[96] = "";
        const char *arg = o->type == OPT_FLAG     ? ""
                          : o->type == OPT_DOUBLE ? " X"
                          : o->type == OPT_STRING ? " S"
                                                  : " N";
        snprintf(left, sizeof left, "--%s%s", o->name, arg);
        if (o->type == OPT_SIZE || o->type == OPT_U64 || o->type == OPT_DOUBLE)
            range_str(o, range, sizeof range);
        printf("  %-22s %s%s%s\n", left, o->help, *range ? "; range " : "", range);
    }
    printf("  %-22s %s\n", "--help", "this text");
}

int opt_parse(const char *cmd, const char *usage, opt *opts, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(usage, opts);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0)
            return usage_error(cmd, "unexpected argument '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        char buf[64];
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len >= sizeof buf)
            return usage_error(cmd, "unknown option '%s'", a);
        memcpy(buf, name, len);
        buf[len] = 0;
        opt *o = opt_find(opts, buf);
        if (!o)
            return usage_error(cmd, "unknown option '--%s'", buf);
        const char *v;
        if (o->type == OPT_FLAG) {
            if (eq)
                return usage_error(cmd, "--%s takes no value", buf);
            v = "";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return usage_error(cmd, "--%s needs a value", buf);
            v = argv[++i];
        }
        int r = parse_value(cmd, o, v);
        if (r)
            return r;
    }
    return 0;
}

/* ---- names ------------------------------------------------------------- */

int parse_task(const char *s, rp_task_kind *k)
{
    for (int i = RP_TASK_SINES; i <= RP_TASK_CXT; i++)
        if (strcmp(s, rp_task_kind_name((rp_task_kind)i)) == 0) {
            *k = (rp_task_kind)i;
            return 0;
        }
    if (strcmp(s, "xor") == 0) {
        *k = RP_TASK_DELAYED_XOR;
        return 0;
    }
    return -1;
}

int parse_rule(const char *s, rp_rule_kind *k)
{
    for (int i = RP_RULE_BPTT; i <= RP_RULE_MODPROP; i++)
        if (strcmp(s, rp_rule_kind_name((rp_rule_kind)i)) == 0) {
            *k = (rp_rule_kind)i;
            return 0;
        }
    return -1;
}

const char *rule_name(rp_rule_kind k)
{
    const char *n = rp_rule_kind_name(k);
    return n ? n : "?";
}

int parse_form(const char *s, rp_form *f)
{
    if (strcmp(s, "voltage") == 0)
        *f = RP_FORM_VOLTAGE;
    else if (strcmp(s, "rate") == 0)
        *f = RP_FORM_RATE;
    else
        return -1;
    return 0;
}

int parse_act(const char *s, rp_activation *a)
{
    if (strcmp(s, "relu") == 0)
        *a = RP_ACT_RELU;
    else if (strcmp(s, "tanh") == 0)
        *a = RP_ACT_TANH;
    else if (strcmp(s, "linear") == 0)
        *a = RP_ACT_LINEAR;
    else
        return -1;
    return 0;
}

int parse_optim(const char *s, rp_optim_kind *o)
{
    if (strcmp(s, "adam") == 0)
        *o = RP_OPTIM_ADAM;
    else if (strcmp(s, "sgd") == 0)
        *o = RP_OPTIM_SGD;
    else
        return -1;
    return 0;
}

static const char *const floss_names[FL_COUNT] = {"off", "local",   "exact",
                                                  "on",  "rescale", "extra"};

int parse_floss(const char *s, floss_kind *f)
{
    for (int i = 0; i < FL_COUNT; i++)
        if (strcmp(s, floss_names[i]) == 0) {
            *f = (floss_kind)i;
            return 0;
        }
    return -1;
}

const char *floss_name(floss_kind f) { return (unsigned)f < FL_COUNT ? floss_names[f] : "?"; }

static const char *const phase_names[] = {"pre", "inter", "during"};

int parse_phase(const char *s, floss_phase *p)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, phase_names[i]) == 0) {
            *p = (floss_phase)i;
            return 0;
        }
    return -1;
}

const char *phase_name(floss_phase p) { return (unsigned)p < 3 ? phase_names[p] : "?"; }

static const char *const fb_names[] = {"default", "symmetric", "random", "none"};

int parse_feedback(const char *s, int *fb)
{
    for (int i = FB_SYMMETRIC; i <= FB_NONE; i++)
        if (strcmp(s, fb_names[i]) == 0) {
            *fb = i;
            return 0;
        }
    return -1;
}

const char *feedback_name(int fb) { return fb >= 0 && fb <= FB_NONE ? fb_names[fb] : "?"; }

int rule_has_feedback(rp_rule_kind r)
{
    return r == RP_RULE_EPROP || r == RP_RULE_RFLO || r == RP_RULE_MODPROP;
}

int rule_default_feedback(rp_rule_kind r)
{
    return r == RP_RULE_RFLO ? FB_RANDOM : rule_has_feedback(r) ? FB_SYMMETRIC : FB_NONE;
}

/* ---- ModProp's cell types ---------------------------------------------- */

#define CELL_FILE_MAX (1u << 20) /* bytes: N <= 4096 integers need far less */

int parse_cell_types(const char *spec, size_t N, unsigned *types, char *err, size_t errlen)
{
    if (strncmp(spec, "ei:", 3) == 0) {
        double f;
        if (parse_num(spec + 3, &f) || !(f >= 0.0 && f <= 1.0)) {
            snprintf(err, errlen, "ei:F expects a fraction F in [0, 1], got '%.60s'", spec);
            return -1;
        }
        size_t n0 = (size_t)floor(f * (double)N + 0.5);
        for (size_t i = 0; i < N; i++)
            types[i] = i < n0 ? 0u : 1u;
        return 0;
    }
    /* A file: regular (O_NONBLOCK: a FIFO does not block the open), small. */
    int fd = open(spec, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot open '%.200s' (expected ei:F or a file): %s", spec,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)CELL_FILE_MAX) {
        snprintf(err, errlen, "'%.200s' is %s, expected a regular file of at most %u bytes", spec,
                 S_ISREG(sb.st_mode)   ? "too large"
                 : S_ISDIR(sb.st_mode) ? "a directory"
                                       : "not a regular file",
                 CELL_FILE_MAX);
        close(fd);
        return -1;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t len = 0;
    ssize_t r = 0;
    while (buf && len < (size_t)sb.st_size &&
           ((r = read(fd, buf + len, (size_t)sb.st_size - len)) > 0 || (r < 0 && errno == EINTR)))
        len += r > 0 ? (size_t)r : 0;
    close(fd);
    if (!buf || r < 0) {
        snprintf(err, errlen, "cannot read '%.200s': %s", spec,
                 buf ? strerror(errno) : "no memory");
        free(buf);
        return -1;
    }
    size_t n = 0, i = 0;
    int rc = 0;
    while (!rc) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
            i++;
        if (i == len)
            break;
        size_t j = i;
        while (j < len && !(buf[j] == ' ' || buf[j] == '\t' || buf[j] == '\n' || buf[j] == '\r'))
            j++;
        uint64_t v;
        if (parse_u64_n(buf + i, j - i, &v) || v >= N) {
            snprintf(err, errlen,
                     "'%.200s': entry %zu is '%.*s', expected an integer in [0, N = %zu)", spec,
                     n + 1, (int)(j - i > 24 ? 24 : j - i), buf + i, N);
            rc = -1;
        } else if (n == N) {
            snprintf(err, errlen, "'%.200s' holds more than N = %zu types", spec, N);
            rc = -1;
        } else {
            types[n++] = (unsigned)v;
        }
        i = j;
    }
    free(buf);
    if (!rc && n != N) {
        snprintf(err, errlen, "'%.200s' holds %zu types, expected N = %zu", spec, n, N);
        rc = -1;
    }
    return rc;
}

/* ---- run options ------------------------------------------------------- */

size_t add_run_opts(opt *opts, size_t n, run_cfg *rc, run_opts *ro, int grid)
{
    const double INF = INFINITY;
    opts[n++] = O_STR("task", &ro->task, "sines|copy|delayed_xor|add|2af|dms|cxt (default 2af)");
    if (!grid) {
        opts[n++] = O_STR("rule", &ro->rule, "bptt|tbptt|rtrl|eprop|rflo|modprop (default eprop)");
        opts[n++] =
            O_NUM("gain", &rc->gain, 0, 0, INF, 0, "initial gain g of W ~ N(0, g^2/N) (default 1)");
        opts[n++] = O_U64("seed", &rc->seed, 0, UINT64_MAX,
                          "seed of weights, data and feedback (default 1)");
        opts[n++] = O_STR(
            "floss", &ro->floss,
            "flossing: off|local|exact|on (on: local for e-prop/RFLO/ModProp, exact for BPTT; "
            "default off), or a control in place of pre-flossing: rescale (W scaled once before "
            "training so that lambda_max, measured as lambda_max before, is within 1e-3 of "
            "--floss-target) or extra (--floss-iters more task iterations first)");
    }
    opts[n++] =
        O_SIZE("tbptt-k", &rc->tbptt_k, 1, MAX_PERIOD, "truncation window of tbptt (default 10)");
    opts[n++] = O_NUM("alpha", &rc->alpha, 0, 0, 1, 1, "leak alpha = 1 - dt/tau (default 0.9)");
    opts[n++] = O_NUM("dt-tau", &ro->dt_tau, 0, 1, 1, 0, "dt/tau, sets alpha = 1 - dt/tau");
    opts[n++] = O_SIZE("N", &rc->N, 1, MAX_UNITS, "recurrent units (default 32)");
    opts[n++] = O_STR("form", &ro->form, "voltage|rate (default voltage)");
    opts[n++] = O_STR("act", &ro->act, "relu|tanh|linear (default relu)");
    opts[n++] = O_NUM("noise", &rc->noise, 0, 0, INF, 0, "state noise sigma (default 0)");
    opts[n++] = O_STR("optim", &ro->optim, "adam|sgd (default adam)");
    opts[n++] = O_NUM("lr", &rc->lr, 0, 1, INF, 0,
                      "learning rate (default per rule: bptt/tbptt/rtrl/eprop 3e-3, rflo 1e-3)");
    opts[n++] = O_NUM("clip", &rc->clip, 0, 0, INF, 0, "gradient-norm clip, 0 = off (default 1)");
    opts[n++] = O_SIZE("iters", &rc->iters, 0, MAX_COUNT, "training iterations (default 300)");
    opts[n++] = O_SIZE("batch", &rc->batch, 1, MAX_BATCH, "trials per iteration (default 16)");
    opts[n++] = O_SIZE("eval-every", &rc->eval_every, 1, MAX_COUNT,
                       "iterations between test evaluations (default 10)");
    opts[n++] = O_SIZE("test-batch", &rc->test_batch, 1, MAX_BATCH, "test trials (default 128)");
    opts[n++] = O_SIZE("lyap-trials", &rc->lyap_trials, 1, 100000,
                       "task trials driving the lambda_max estimate (default 10)");
    opts[n++] = O_SIZE("lyap-k", &rc->lyap_k, 1, MAX_UNITS,
                       "exponents of lambda_before/after, at most N; the largest kept (default 1)");
    opts[n++] = O_SIZE("ftle-trials", &rc->ftle_trials, 1, 100000,
                       "trials of the trial-based exponents ftle_* (default 16)");
    opts[n++] = O_SIZE("ftle-k", &rc->ftle_k, 1, MAX_UNITS,
                       "exponents of the trial-based measurement, at most N (default 4, or N)");
    opts[n++] = O_STR("floss-phase", &ro->phase, "pre|inter|during (default pre)");
    opts[n++] =
        O_SIZE("floss-k", &rc->floss_k, 1, MAX_UNITS, "exponents flossed, at most N (default 1)");
    opts[n++] = O_NUM("floss-target", &rc->floss_target, -INF, 0, INF, 0,
                      "target lambda* per step (default 0)");
    opts[n++] = O_NUM("floss-beta", &rc->floss_beta, 0, 1, INF, 0,
                      "weight of the flossing gradient (default 1)");
    opts[n++] = O_SIZE("floss-iters", &rc->floss_iters, 0, MAX_COUNT,
                       "flossing steps before training (phase pre), after every --floss-every "
                       "task iterations (phase inter; at least 1), or extra task iterations "
                       "(--floss extra) (default 50)");
    opts[n++] = O_SIZE("floss-every", &rc->floss_every, 1, MAX_COUNT,
                       "task iterations between flossing cycles (phase inter; default 10)");
    opts[n++] = O_STR("floss-optim", &ro->floss_optim,
                      "optimizer of flossing steps (phases pre, inter): shared (the task's; "
                      "after pre-flossing its moments are reset) or adam|sgd (one of its own) "
                      "(default shared)");
    opts[n++] = O_NUM("floss-lr", &rc->floss_lr, 0, 1, INF, 0,
                      "learning rate of flossing steps (phases pre, inter; default: --lr's)");
    opts[n++] = O_NUM("floss-clip", &rc->floss_clip, 0, 0, INF, 0,
                      "gradient-norm clip of flossing steps, 0 = off (phases pre, inter; "
                      "default: --clip's)");
    opts[n++] = O_STR("floss-params", &ro->floss_params,
                      "parameters flossing moves: all (every one its gradient reaches: W, and "
                      "U, b for exact or rate-form local flossing) or W (default all)");
    opts[n++] = O_SIZE("delay", &ro->delay, 0, MAX_PERIOD,
                       "task delay in steps (copy/xor d; 2af/cxt/dms delay period)");
    opts[n++] =
        O_SIZE("T", &ro->T, 1, MAX_PERIOD, "steps per trial (sines, copy, delayed_xor, add)");
    opts[n++] = O_SIZE("t1", &ro->t1, 0, MAX_PERIOD, "lag t1 of add");
    opts[n++] = O_SIZE("t2", &ro->t2, 0, MAX_PERIOD, "lag t2 of add");
    opts[n++] = O_SIZE("fixation", &ro->fixation, 0, MAX_PERIOD, "fixation period (2af, dms, cxt)");
    opts[n++] = O_SIZE("stimulus", &ro->stimulus, 1, MAX_PERIOD, "stimulus / sample period");
    opts[n++] = O_SIZE("test-period", &ro->test, 1, MAX_PERIOD, "test period (dms)");
    opts[n++] = O_SIZE("decision", &ro->decision, 1, MAX_PERIOD, "decision period");
    opts[n++] = O_NUM("sigma", &ro->sigma, 0, 0, INF, 0, "stimulus noise (2af, dms, cxt)");
    opts[n++] = O_NUM("fix-weight", &ro->fix_weight, 0, 0, 1, 0,
                      "loss weight of non-decision steps (2af, dms, cxt; default 1)");
    opts[n++] = O_STR("cell-types", &ro->cell_types,
                      "modprop's cell types: ei:F (the first F*N units type 0, the rest 1) or "
                      "a file of N integers in [0, N) (default: one type)");
    opts[n++] = O_NUM("modprop-mu", &rc->modprop_mu, -INF, 0, INF, 0,
                      "modprop's mu, the constant replacing f' (default 0.5)");
    opts[n++] = O_STR("precision", &ro->precision,
                      "single|double: the nets' arithmetic (default double).  single: every "
                      "rule but rtrl; every --floss; lambda_max and the ftle columns are "
                      "measured in float on the net itself");
    opts[n++] = O_STR("coherences", &ro->coherences,
                      "comma-separated set of up to 8 distinct coherences in [0,1] (2af, cxt)");
    opts[n] = O_END;
    return n;
}

int precision_refuses(const char *cmd, rp_precision prec, rp_rule_kind rule, floss_kind fl)
{
    if (prec != RP_PRECISION_SINGLE)
        return 0;
    if (rule == RP_RULE_RTRL)
        return usage_error(cmd,
                           "--precision single: rule rtrl has no single-precision kernel (it is "
                           "the exact O(N^4) reference, double only; bptt, tbptt, eprop, rflo "
                           "and modprop have one)");
    (void)fl; /* every --floss runs: rp_floss and rp_lyap have float kernels */
    return 0;
}

int apply_run_opts(const char *cmd, opt *opts, run_cfg *rc, run_opts *ro, int grid)
{
    if (ro->precision) {
        if (strcmp(ro->precision, "single") == 0)
            rc->precision = RP_PRECISION_SINGLE;
        else if (strcmp(ro->precision, "double") == 0)
            rc->precision = RP_PRECISION_DOUBLE;
        else
            return usage_error(cmd, "--precision: expected single or double, got '%s'",
                               ro->precision);
    }
    if (ro->task && parse_task(ro->task, &rc->task))
        return usage_error(cmd, "--task: unknown task '%s'", ro->task);
    if (!grid && ro->rule && parse_rule(ro->rule, &rc->rule))
        return usage_error(cmd, "--rule: unknown rule '%s'", ro->rule);
    if (ro->form && parse_form(ro->form, &rc->form))
        return usage_error(cmd, "--form: expected voltage or rate, got '%s'", ro->form);
    if (ro->act && parse_act(ro->act, &rc->act))
        return usage_error(cmd, "--act: expected relu, tanh or linear, got '%s'", ro->act);
    if (ro->optim && parse_optim(ro->optim, &rc->optim))
        return usage_error(cmd, "--optim: expected adam or sgd, got '%s'", ro->optim);
    if (!grid && ro->floss && parse_floss(ro->floss, &rc->floss))
        return usage_error(cmd, "--floss: expected off, local, exact or on, got '%s'", ro->floss);
    if (ro->phase && parse_phase(ro->phase, &rc->phase))
        return usage_error(cmd, "--floss-phase: expected pre, inter or during, got '%s'",
                           ro->phase);
    if (ro->floss_optim) {
        rp_optim_kind ok;
        if (strcmp(ro->floss_optim, "shared") == 0)
            rc->floss_optim = FOPT_SHARED;
        else if (parse_optim(ro->floss_optim, &ok) == 0)
            rc->floss_optim = (int)ok;
        else
            return usage_error(cmd, "--floss-optim: expected shared, adam or sgd, got '%s'",
                               ro->floss_optim);
    }
    if (ro->floss_params) {
        if (strcmp(ro->floss_params, "all") == 0)
            rc->floss_w_only = 0;
        else if (strcmp(ro->floss_params, "W") == 0)
            rc->floss_w_only = 1;
        else
            return usage_error(cmd, "--floss-params: expected W or all, got '%s'",
                               ro->floss_params);
    }
    /* A flossing step of its own exists in phases pre and inter only: during
       training the flossing gradient joins the task step (--floss-beta). */
    if (rc->phase == FP_DURING) {
        static const char *const own[] = {"floss-optim", "floss-lr", "floss-clip"};
        for (int i = 0; i < 3; i++)
            if (opt_find(opts, own[i])->set)
                return usage_error(cmd,
                                   "--%s is for flossing-only steps (--floss-phase pre or "
                                   "inter); during training the flossing gradient joins the "
                                   "task step, weighted by --floss-beta",
                                   own[i]);
    }
    /* MODEL.md §7.3: an inter-flossing cycle has E_i >= 1 flossing steps. */
    if (rc->phase == FP_INTER && rc->floss_iters == 0)
        return usage_error(cmd,
                           "--floss-iters: expected 1..%llu with --floss-phase inter "
                           "(flossing steps per cycle), got 0",
                           (unsigned long long)MAX_COUNT);
    /* The controls stand in for pre-flossing. */
    if (!grid && (rc->floss == FL_RESCALE || rc->floss == FL_EXTRA) && rc->phase != FP_PRE)
        return usage_error(cmd,
                           "--floss %s is a control for pre-flossing: it needs "
                           "--floss-phase pre, got %s",
                           floss_name(rc->floss), phase_name(rc->phase));
    if (opt_find(opts, "dt-tau")->set) {
        if (opt_find(opts, "alpha")->set)
            return usage_error(cmd, "give --alpha or --dt-tau, not both");
        rc->alpha = 1.0 - ro->dt_tau;
    }
    if (rc->floss_k > rc->N)
        return usage_error(cmd, "--floss-k: expected 1..N = %zu, got %zu", rc->N, rc->floss_k);
    if (rc->lyap_k > rc->N)
        return usage_error(cmd, "--lyap-k: expected 1..N = %zu, got %zu", rc->N, rc->lyap_k);
    if (opt_find(opts, "ftle-k")->set && rc->ftle_k > rc->N)
        return usage_error(cmd, "--ftle-k: expected 1..N = %zu, got %zu", rc->N, rc->ftle_k);
    /* ModProp's settings: refused for another rule (a sweep applies them to
       its modprop runs only) */
    if (!grid && rc->rule != RP_RULE_MODPROP) {
        if (ro->cell_types)
            return usage_error(cmd, "--cell-types is for --rule modprop, the rule is %s",
                               rule_name(rc->rule));
        if (opt_find(opts, "modprop-mu")->set)
            return usage_error(cmd, "--modprop-mu is for --rule modprop, the rule is %s",
                               rule_name(rc->rule));
    }
    if (ro->cell_types) {
        char why[256];
        if (parse_cell_types(ro->cell_types, rc->N, rc->cell_types, why, sizeof why))
            return usage_error(cmd, "--cell-types: %s", why);
        rc->has_types = 1;
    }

    /* The task: its defaults, then the options given. */
    rp_task_config t;
    rp_task_config_init(&t, sizeof t, rc->task);
    if (opt_find(opts, "delay")->set)
        t.delay = ro->delay;
    if (opt_find(opts, "T")->set)
        t.T = ro->T;
    if (opt_find(opts, "t1")->set)
        t.t1 = ro->t1;
    if (opt_find(opts, "t2")->set)
        t.t2 = ro->t2;
    if (opt_find(opts, "fixation")->set)
        t.fixation = ro->fixation;
    if (opt_find(opts, "stimulus")->set)
        t.stimulus = ro->stimulus;
    if (opt_find(opts, "test-period")->set)
        t.test = ro->test;
    if (opt_find(opts, "decision")->set)
        t.decision = ro->decision;
    if (opt_find(opts, "sigma")->set)
        t.sigma = ro->sigma;
    if (opt_find(opts, "fix-weight")->set)
        t.fix_weight = ro->fix_weight;
    if (ro->coherences) {
        char *tok[RP_TASK_MAX_COH + 1], buf[512];
        size_t k = split_list(ro->coherences, buf, sizeof buf, tok, RP_TASK_MAX_COH + 1);
        if (k == 0 || k > RP_TASK_MAX_COH)
            return usage_error(
                cmd, "--coherences: expected 1..%d comma-separated numbers in [0, 1], got '%s'",
                RP_TASK_MAX_COH, ro->coherences);
        for (size_t i = 0; i < k; i++) {
            double c;
            if (parse_num(tok[i], &c) || !(c >= 0.0 && c <= 1.0))
                return usage_error(cmd, "--coherences: expected numbers in [0, 1], got '%s'",
                                   tok[i]);
            for (size_t j = 0; j < i; j++)
                if (t.coherences[j] == c)
                    return usage_error(cmd, "--coherences: %s and %s are the same coherence",
                                       tok[j], tok[i]);
            t.coherences[i] = c;
        }
        t.n_coherences = k;
    }
    /* Periods changed: T of a classification task follows them. */
    if (rc->task >= RP_TASK_2AF && !opt_find(opts, "T")->set)
        t.T = 0;
    char msg[256];
    if (rp_task_config_check(rc->task, &t, msg, sizeof msg) != RP_OK)
        return usage_error(cmd, "task %s: %s", rp_task_kind_name(rc->task), msg);
    rp_task *tk = NULL;
    size_t n_in = 1, n_out = 1;
    /* T of a classification task is the periods' sum; the config was checked
       above, so only a lack of memory fails here (and is reported by the run). */
    if (rp_task_create(&tk, rc->task, &t, NULL, 0) == RP_OK &&
        (rp_task_get_config(tk, &t, sizeof t) != RP_OK ||
         rp_task_get_dims(tk, &n_in, &n_out, NULL, NULL) != RP_OK))
        n_in = n_out = 1; /* not reached: tk and the pointers are valid */
    rp_task_free(tk);
    rc->tcfg = t;
    /* The two networks of a run (training batch, test batch): refused here,
       before any work, rather than when the run sets up. */
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = n_in;
    nc.n_out = n_out;
    nc.n_rec = rc->N;
    for (int e = 0; e < 2; e++) {
        nc.batch = e ? rc->test_batch : rc->batch;
        if (rp_net_config_check(&nc, msg, sizeof msg) != RP_OK)
            return usage_error(cmd, "--%s %zu with --N %zu: %s", e ? "test-batch" : "batch",
                               nc.batch, rc->N, msg);
    }
    /* sweep checks each rule and flossing mode of its grid */
    if (!grid && precision_refuses(cmd, rc->precision, rc->rule, rc->floss))
        return EXIT_USAGE;
    return 0;
}
