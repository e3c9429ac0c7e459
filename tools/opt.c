/* Command-line options, names of the library's enumerations, and the run
   options shared by `train` and `sweep`. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

static int parse_value(const char *cmd, opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_SIZE:
    case OPT_U64: {
        if (!*v || *v == '-')
            return usage_error(cmd, "--%s: expected a non-negative integer, got '%s'", o->name, v);
        unsigned long long u = strtoull(v, &end, 10);
        if (*end || errno)
            return usage_error(cmd, "--%s: expected a non-negative integer, got '%s'", o->name, v);
        if (o->type == OPT_SIZE)
            *(size_t *)o->ptr = (size_t)u;
        else
            *(uint64_t *)o->ptr = (uint64_t)u;
        break;
    }
    case OPT_DOUBLE: {
        double d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d))
            return usage_error(cmd, "--%s: expected a number, got '%s'", o->name, v);
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
        char left[64];
        const char *arg = o->type == OPT_FLAG     ? ""
                          : o->type == OPT_DOUBLE ? " X"
                          : o->type == OPT_STRING ? " S"
                                                  : " N";
        snprintf(left, sizeof left, "--%s%s", o->name, arg);
        printf("  %-22s %s\n", left, o->help);
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

static const char *const rule_names[] = {"bptt", "tbptt", "rtrl", "eprop", "rflo"};

int parse_rule(const char *s, rp_rule_kind *k)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, rule_names[i]) == 0) {
            *k = (rp_rule_kind)i;
            return 0;
        }
    return -1;
}

const char *rule_name(rp_rule_kind k) { return (unsigned)k < 5 ? rule_names[k] : "?"; }

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

static const char *const floss_names[] = {"off", "local", "exact", "on"};

int parse_floss(const char *s, floss_kind *f)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, floss_names[i]) == 0) {
            *f = (floss_kind)i;
            return 0;
        }
    return -1;
}

const char *floss_name(floss_kind f) { return (unsigned)f < 4 ? floss_names[f] : "?"; }

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

/* ---- run options ------------------------------------------------------- */

#define ADD(nm, ty, p, h) opts[n++] = (opt){nm, ty, p, h, 0}

size_t add_run_opts(opt *opts, size_t n, run_cfg *rc, run_opts *ro, int grid)
{
    ADD("task", OPT_STRING, &ro->task, "sines|copy|delayed_xor|add|2af|dms|cxt (default 2af)");
    if (!grid) {
        ADD("rule", OPT_STRING, &ro->rule, "bptt|tbptt|rtrl|eprop|rflo (default eprop)");
        ADD("gain", OPT_DOUBLE, &rc->gain, "initial gain g of W ~ N(0, g^2/N) (default 1)");
        ADD("seed", OPT_U64, &rc->seed, "seed of weights, data and feedback (default 1)");
        ADD("floss", OPT_STRING, &ro->floss, "flossing: off|local|exact|on (on: local for e-prop/RFLO, exact for BPTT; default off)");
    }
    ADD("tbptt-k", OPT_SIZE, &rc->tbptt_k, "truncation window of tbptt (default 10)");
    ADD("alpha", OPT_DOUBLE, &rc->alpha, "leak alpha = 1 - dt/tau in [0,1) (default 0.9)");
    ADD("dt-tau", OPT_DOUBLE, &ro->dt_tau, "dt/tau, sets alpha = 1 - dt/tau");
    ADD("N", OPT_SIZE, &rc->N, "recurrent units (default 32)");
    ADD("form", OPT_STRING, &ro->form, "voltage|rate (default voltage)");
    ADD("act", OPT_STRING, &ro->act, "relu|tanh|linear (default relu)");
    ADD("noise", OPT_DOUBLE, &rc->noise, "state noise sigma (default 0)");
    ADD("optim", OPT_STRING, &ro->optim, "adam|sgd (default adam)");
    ADD("lr", OPT_DOUBLE, &rc->lr, "learning rate (default per rule: bptt/tbptt/rtrl/eprop 3e-3, rflo 1e-3)");
    ADD("clip", OPT_DOUBLE, &rc->clip, "gradient-norm clip, 0 = off (default 1)");
    ADD("iters", OPT_SIZE, &rc->iters, "training iterations (default 300)");
    ADD("batch", OPT_SIZE, &rc->batch, "trials per iteration (default 16)");
    ADD("eval-every", OPT_SIZE, &rc->eval_every, "iterations between test evaluations (default 10)");
    ADD("test-batch", OPT_SIZE, &rc->test_batch, "test trials (default 128)");
    ADD("lyap-trials", OPT_SIZE, &rc->lyap_trials, "task trials driving the lambda_max estimate (default 10)");
    ADD("floss-phase", OPT_STRING, &ro->phase, "pre|inter|during (default pre)");
    ADD("floss-k", OPT_SIZE, &rc->floss_k, "exponents flossed (default 1)");
    ADD("floss-target", OPT_DOUBLE, &rc->floss_target, "target lambda* per step (default 0)");
    ADD("floss-beta", OPT_DOUBLE, &rc->floss_beta, "weight of the flossing gradient (default 1)");
    ADD("floss-iters", OPT_SIZE, &rc->floss_iters, "flossing steps before training (phase pre; default 50)");
    ADD("floss-every", OPT_SIZE, &rc->floss_every, "one flossing step every this many iterations (phase inter; default 10)");
    ADD("delay", OPT_SIZE, &ro->delay, "task delay in steps (copy/xor d; 2af/cxt/dms delay period)");
    ADD("T", OPT_SIZE, &ro->T, "steps per trial (sines, copy, delayed_xor, add)");
    ADD("t1", OPT_SIZE, &ro->t1, "lag t1 of add");
    ADD("t2", OPT_SIZE, &ro->t2, "lag t2 of add");
    ADD("fixation", OPT_SIZE, &ro->fixation, "fixation period (2af, dms, cxt)");
    ADD("stimulus", OPT_SIZE, &ro->stimulus, "stimulus / sample period");
    ADD("test-period", OPT_SIZE, &ro->test, "test period (dms)");
    ADD("decision", OPT_SIZE, &ro->decision, "decision period");
    ADD("sigma", OPT_DOUBLE, &ro->sigma, "stimulus noise (2af, dms, cxt)");
    ADD("fix-weight", OPT_DOUBLE, &ro->fix_weight, "loss weight of non-decision steps in [0,1] (2af, dms, cxt; default 1)");
    ADD("coherences", OPT_STRING, &ro->coherences, "comma-separated coherence set in [0,1] (2af, cxt)");
    opts[n] = (opt){NULL, OPT_FLAG, NULL, NULL, 0};
    return n;
}

int apply_run_opts(const char *cmd, opt *opts, run_cfg *rc, run_opts *ro, int grid)
{
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
        return usage_error(cmd, "--floss-phase: expected pre, inter or during, got '%s'", ro->phase);
    if (opt_find(opts, "dt-tau")->set) {
        if (opt_find(opts, "alpha")->set)
            return usage_error(cmd, "give --alpha or --dt-tau, not both");
        if (!(ro->dt_tau > 0.0 && ro->dt_tau <= 1.0))
            return usage_error(cmd, "--dt-tau: expected in (0, 1], got %g", ro->dt_tau);
        rc->alpha = 1.0 - ro->dt_tau;
    }
    if (!(rc->alpha >= 0.0 && rc->alpha < 1.0))
        return usage_error(cmd, "--alpha: expected in [0, 1), got %g", rc->alpha);
    if (!grid && !(rc->gain >= 0.0))
        return usage_error(cmd, "--gain: expected >= 0, got %g", rc->gain);
    if (rc->N < 1 || rc->N > 4096)
        return usage_error(cmd, "--N: expected 1..4096, got %zu", rc->N);
    if (rc->batch < 1)
        return usage_error(cmd, "--batch: expected >= 1");
    if (rc->test_batch < 1)
        return usage_error(cmd, "--test-batch: expected >= 1");
    if (rc->eval_every < 1)
        return usage_error(cmd, "--eval-every: expected >= 1");
    if (rc->lyap_trials < 1)
        return usage_error(cmd, "--lyap-trials: expected >= 1");
    if (rc->tbptt_k < 1)
        return usage_error(cmd, "--tbptt-k: expected >= 1");
    if (opt_find(opts, "lr")->set && !(rc->lr > 0.0))
        return usage_error(cmd, "--lr: expected > 0, got %g", rc->lr);
    if (!(rc->clip >= 0.0))
        return usage_error(cmd, "--clip: expected >= 0, got %g", rc->clip);
    if (!(rc->noise >= 0.0))
        return usage_error(cmd, "--noise: expected >= 0, got %g", rc->noise);
    if (rc->floss_k < 1 || rc->floss_k > rc->N)
        return usage_error(cmd, "--floss-k: expected 1..N = %zu, got %zu", rc->N, rc->floss_k);
    if (!(rc->floss_beta > 0.0))
        return usage_error(cmd, "--floss-beta: expected > 0, got %g", rc->floss_beta);
    if (rc->floss_every < 1)
        return usage_error(cmd, "--floss-every: expected >= 1");

    /* The task: its defaults, then the options given. */
    rp_task_config t = rp_task_config_default(rc->task);
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
        size_t k = 0;
        const char *p = ro->coherences;
        while (*p) {
            char *end;
            double c = strtod(p, &end);
            if (end == p || (*end && *end != ',') || k >= RP_TASK_MAX_COH)
                return usage_error(cmd, "--coherences: expected up to %d comma-separated numbers, got '%s'",
                                   RP_TASK_MAX_COH, ro->coherences);
            t.coherences[k++] = c;
            p = *end ? end + 1 : end;
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
    if (rp_task_create(&tk, rc->task, &t) == RP_OK)
        (void)rp_task_get_config(tk, &t); /* T of a classification task: the periods' sum */
    rp_task_free(tk);
    rc->tcfg = t;
    return 0;
}
