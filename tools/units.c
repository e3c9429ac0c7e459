/* Periods in units of tau and noise as continuous-time intensities
   (MODEL.md §8 "Units"): flags that give a task's periods in tau and the
   stimulus / state noise as intensities independent of dt, converted into
   the steps and per-step standard deviations the library takes.  Without
   them every value is the per-step one given, as before. */
#include "tool.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* The periods that have a tau form: the step flag, its tau twin and the
   field of run_opts the step flag sets. */
static const struct {
    const char *step, *tau, *what;
    size_t off;
} periods[UNITS_NPER] = {
    {"delay", "delay-tau", "task delay (copy/xor d; 2af/cxt/dms delay period)",
     offsetof(run_opts, delay)},
    {"fixation", "fixation-tau", "fixation period (2af, dms, cxt)", offsetof(run_opts, fixation)},
    {"stimulus", "stimulus-tau", "stimulus / sample period", offsetof(run_opts, stimulus)},
    {"test-period", "test-period-tau", "test period (dms)", offsetof(run_opts, test)},
    {"decision", "decision-tau", "decision period", offsetof(run_opts, decision)},
    {"T", "T-tau", "trial length (sines, copy, delayed_xor, add)", offsetof(run_opts, T)},
    {"t1", "t1-tau", "lag t1 of add", offsetof(run_opts, t1)},
    {"t2", "t2-tau", "lag t2 of add", offsetof(run_opts, t2)},
};

/* A period in tau must be a whole number of steps of dt/tau to within this
   relative error (1 - alpha is inexact: 1 - 0.9 = 0.09999999999999998). */
#define UNITS_REL_TOL 1e-9

size_t add_units_opts(opt *opts, size_t n, units_opts *u)
{
    static char help[UNITS_NPER][160];
    for (int i = 0; i < UNITS_NPER; i++) {
        snprintf(help[i], sizeof help[i],
                 "%s in units of tau, instead of --%s: a whole number of steps of dt/tau "
                 "(steps = X / (dt/tau))",
                 periods[i].what, periods[i].step);
        opts[n++] = O_NUM(periods[i].tau, &u->tau[i], 0, 0, 1e9, 0, help[i]);
    }
    opts[n++] =
        O_NUM("sigma-ct", &u->sigma_ct, 0, 0, 1e9, 0,
              "stimulus noise as a continuous-time intensity, instead of --sigma: "
              "sigma per step = sqrt(2 / (dt/tau)) X (MODEL.md section 8; Song, Yang & Wang "
              "2016)");
    opts[n++] = O_NUM("noise-ct", &u->noise_ct, 0, 0, 1e9, 0,
                      "state noise as a continuous-time intensity, instead of --noise: "
                      "sigma per step = sqrt(2 dt/tau) X (MODEL.md section 8)");
    return n;
}

int apply_units_opts(const char *cmd, opt *opts, run_cfg *rc, struct run_opts *ro)
{
    const units_opts *u = &ro->units;
    /* dt/tau = 1 - alpha (MODEL.md §1) as apply_run_opts will set alpha */
    const double dt = 1.0 - (opt_find(opts, "dt-tau")->set ? 1.0 - ro->dt_tau : rc->alpha);
    char ds[32], used[1024] = "";
    size_t at = 0;
    snprintf(ds, sizeof ds, "%g", dt); /* 1 - 0.9 is 0.09999999999999998 */
    for (int i = 0; i < UNITS_NPER; i++) {
        if (!opt_find(opts, periods[i].tau)->set)
            continue;
        opt *so = opt_find(opts, periods[i].step);
        if (so->set)
            return usage_error(cmd, "give --%s (steps) or --%s (tau), not both", periods[i].step,
                               periods[i].tau);
        const double x = u->tau[i], q = x / dt, k = nearbyint(q);
        char xs[32];
        fmt_num(x, xs, sizeof xs);
        if (!(fabs(q - k) <= UNITS_REL_TOL * fmax(1.0, q)))
            return usage_error(cmd,
                               "--%s %s: at dt/tau %s that is %.6g steps, not a whole number "
                               "(%.0f steps = %.6g tau, %.0f steps = %.6g tau)",
                               periods[i].tau, xs, ds, q, floor(q), floor(q) * dt, floor(q) + 1,
                               (floor(q) + 1) * dt);
        if (x > 0 && k < 1)
            return usage_error(cmd, "--%s %s: at dt/tau %s that rounds to 0 steps", periods[i].tau,
                               xs, ds);
        if (k < (double)so->imin || k > (double)so->imax)
            return usage_error(cmd, "--%s %s: at dt/tau %s that is %.0f steps, expected %llu..%llu",
                               periods[i].tau, xs, ds, k, so->imin, so->imax);
        *(size_t *)((char *)ro + periods[i].off) = (size_t)k;
        so->set = 1; /* as if --<step> k had been given */
        if (at < sizeof used)
            at += (size_t)snprintf(used + at, sizeof used - at, "%s%s %s tau = %zu steps",
                                   at ? ", " : "", periods[i].step, xs, (size_t)k);
    }
    const struct {
        const char *ct, *step;
        double x, f;
        double *dst;
    } ns[2] = {{"sigma-ct", "sigma", u->sigma_ct, sqrt(2.0 / dt), &ro->sigma},
               {"noise-ct", "noise", u->noise_ct, sqrt(2.0 * dt), &rc->noise}};
    for (int i = 0; i < 2; i++) {
        if (!opt_find(opts, ns[i].ct)->set)
            continue;
        opt *so = opt_find(opts, ns[i].step);
        if (so->set)
            return usage_error(cmd, "give --%s (per step) or --%s (continuous time), not both",
                               ns[i].step, ns[i].ct);
        const double v = ns[i].f * ns[i].x;
        char xs[32], vs[32];
        fmt_num(ns[i].x, xs, sizeof xs);
        if (!isfinite(v))
            return usage_error(cmd, "--%s %s: the per-step value overflows", ns[i].ct, xs);
        *ns[i].dst = v;
        so->set = 1;
        fmt_num(v, vs, sizeof vs);
        if (at < sizeof used)
            at += (size_t)snprintf(used + at, sizeof used - at, "%s%s %s = %s %s per step",
                                   at ? ", " : "", ns[i].ct, xs, ns[i].step, vs);
    }
    if (at)
        fprintf(stderr, "rnnplast %s: at dt/tau %s: %s\n", cmd, ds, used);
    return 0;
}

void print_periods_tau(FILE *out, const run_cfg *rc)
{
    const rp_task_config *t = &rc->tcfg;
    const double dt = 1.0 - rc->alpha;
    const char *name[5];
    size_t v[5], n = 0;
    switch (rc->task) {
    case RP_TASK_2AF:
    case RP_TASK_CXT:
    case RP_TASK_DMS:
        name[n] = "fixation", v[n++] = t->fixation;
        name[n] = rc->task == RP_TASK_DMS ? "sample" : "stimulus", v[n++] = t->stimulus;
        name[n] = "delay", v[n++] = t->delay;
        if (rc->task == RP_TASK_DMS)
            name[n] = "test", v[n++] = t->test;
        name[n] = "decision", v[n++] = t->decision;
        break;
    case RP_TASK_COPY:
    case RP_TASK_DELAYED_XOR:
        name[n] = "delay", v[n++] = t->delay;
        break;
    default:
        return;
    }
    fprintf(out, "periods (dt/tau = 1 - alpha = %g):", dt);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s %s %zu steps = %g tau", i ? "," : "", name[i], v[i], (double)v[i] * dt);
    fprintf(out, "\n");
}
