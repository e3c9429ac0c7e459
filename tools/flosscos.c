/* rnnplast floss-cosine: how well local flossing (MODEL.md §7.2) follows the
   exact flossing gradient (§7.1) on the networks a sweep starts from, per
   flossing window and transient (issue 14, item 4: the cosine in the
   study's regime, used to choose the window).

   For each gain and seed the net is the one run.c initializes for that
   seed (W ~ N(0, g^2/N) from the seed, U from SEED_U, biases 0; batch 1, no
   noise) and the input is the task trials run.c's pre-flossing draws
   (rp_task_sample with SEED_FLOSS(seed, i), trial i; a window longer than a
   trial runs the trials one after another without reset).  Window T and
   transient T/4 of one trial (the defaults) are exactly the gradient of the
   first pre-flossing step of `rnnplast train --floss local|exact`.  Both
   gradients come from rp_floss_trial on the same net, input, basis seed (the
   run's seed, as run.c) and settings; the cosine is over the W block (local
   flossing in the voltage form reaches W alone) and, as cos_all, over W, U
   and b together. */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIN 32           /* values of --windows, of --transients */
#define TR_AUTO ((size_t)-1) /* --transients auto: window / 4 */

/* a . b / (|a| |b|): NAN when either is 0 (no direction). */
static double cosine(const double *a, const double *b, size_t n)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0.0 && bb > 0.0 ? ab / sqrt(aa * bb) : NAN;
}

/* A comma list of distinct step counts into v (>= lo each); "auto" allowed
   when autok (v = TR_AUTO marks it).  Count, or 0 on a bad list. */
static size_t parse_steps(const char *s, size_t *v, size_t lo, int autok)
{
    char buf[1024], *tok[MAX_WIN + 1];
    size_t n = split_list(s, buf, sizeof buf, tok, MAX_WIN);
    if (n == 0 || n > MAX_WIN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned long long u;
        if (autok && strcmp(tok[i], "auto") == 0) {
            v[i] = TR_AUTO;
        } else if (parse_ull(tok[i], &u) || u < lo || u > MAX_PERIOD) {
            return 0;
        } else {
            v[i] = (size_t)u;
        }
        for (size_t k = 0; k < i; k++)
            if (v[k] == v[i])
                return 0;
    }
    return n;
}

/* Whether transient b of window a is "auto" giving a value also listed
   (that pair is computed once, under the explicit value). */
static int auto_dup(const size_t *win, const size_t *tr, size_t nt, size_t a, size_t b)
{
    if (tr[b] != TR_AUTO)
        return 0;
    for (size_t q = 0; q < nt; q++)
        if (tr[q] == win[a] / 4)
            return 1;
    return 0;
}

/* The trained-net setup of run.c for one seed and gain (batch 1). */
static rp_status make_net(const run_cfg *rc, size_t n_in, size_t n_out, double gain, uint64_t seed,
                          rp_net **net, char *msg, size_t len)
{
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = n_in;
    nc.n_rec = rc->N;
    nc.n_out = n_out;
    nc.batch = 1;
    nc.alpha = rc->alpha;
    nc.form = rc->form;
    nc.act = rc->act;
    nc.seed = seed;
    rp_init *init = NULL;
    rp_status st = rp_net_create(net, &nc, msg, len);
    if (st == RP_OK)
        st = rp_init_create(&init, RP_INIT_GAUSSIAN, msg, len);
    if (st == RP_OK)
        st = rp_init_set_gain(init, gain);
    if (st == RP_OK)
        st = rp_init_apply(init, *net, RP_PARAM_W, seed);
    if (st == RP_OK)
        st = rp_init_set_gain(init, 1.0);
    if (st == RP_OK && n_in)
        st = rp_init_apply(init, *net, RP_PARAM_U, SEED_U(seed));
    if (st == RP_OK)
        st = rp_init_apply(init, *net, RP_PARAM_V, SEED_V(seed));
    if (st != RP_OK && init && !msg[0])
        snprintf(msg, len, "%s", rp_init_last_error(init));
    rp_init_free(init);
    return st;
}

typedef struct cell {
    double s, mn, mx;
    size_t n, failed;
} cell;

static const char fc_usage[] =
    "usage: rnnplast floss-cosine [options]\n"
    "cosine(local, exact flossing gradient) on the fresh networks a sweep starts from:\n"
    "for every gain (--gains), seed 1..--seeds, flossing window (--windows, steps of one\n"
    "flossing trajectory) and transient (--transients, steps not counted), both gradients\n"
    "of F = (1/k) sum (lambda_i - target)^2 by rp_floss_trial (k --floss-k, target\n"
    "--floss-target, --t-ons) on the same net and input; cosine of their W blocks (and,\n"
    "as cos_all, of W, U, b together).  The net of seed s is the one `rnnplast train`\n"
    "initializes for seed s; its input is the trials its pre-flossing draws, one after\n"
    "another (no reset) when a window is longer than a trial.  Window T and transient\n"
    "T/4 of one trial (the default, 'auto': window/4) are the first pre-flossing step's.\n"
    "Prints per (gain, window, transient) the mean, min and max over seeds, then the\n"
    "(window, transient) with the largest mean over gains and seeds.  --out writes one\n"
    "row per (gain, window, transient, seed): gain,window,transient,seed,cos_w,cos_all,\n"
    "F,status (status ok, or the failure: a diverging state or collapsed direction,\n"
    "cos nan).  The task, network and flossing flags are the sweep's (rule, optimizer\n"
    "and training flags are accepted and unused).";

int cmd_floss_cosine(int argc, char **argv)
{
    run_cfg rc;
    run_cfg_default(&rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    const char *gains_s = "0.5,1,1.5,2", *win_s = NULL, *tr_s = "auto", *out_path = NULL;
    size_t nseeds = 3, t_ons = 1;
    opt opts[80];
    size_t n = 0;
    opts[n++] = O_STR("gains", &gains_s, "comma-separated gains >= 0 (default 0.5,1,1.5,2)");
    opts[n++] = O_SIZE("seeds", &nseeds, 1, 10000, "seeds 1..seeds per gain (default 3)");
    opts[n++] = O_STR("windows", &win_s,
                      "comma-separated window lengths in steps, at most 32 (default: the "
                      "task's trial length T)");
    opts[n++] = O_STR("transients", &tr_s,
                      "comma-separated transients in steps, or auto (window/4, as training "
                      "uses) (default auto)");
    opts[n++] = O_SIZE("t-ons", &t_ons, 1, MAX_PERIOD,
                       "steps between re-orthonormalizations (default 1, as training)");
    opts[n++] = O_STR("out", &out_path, "CSV of every (gain, window, transient, seed)");
    add_run_opts(opts, n, &rc, &ro, 1);
    int r = opt_parse("floss-cosine", fc_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    r = apply_run_opts("floss-cosine", opts, &rc, &ro, 1);
    if (r)
        return r;
    char gbuf[2048], *gt[65];
    double gains[64];
    size_t ng = split_list(gains_s, gbuf, sizeof gbuf, gt, 64);
    if (ng == 0 || ng > 64)
        return usage_error("floss-cosine", "--gains: expected 1..64 comma-separated gains");
    for (size_t i = 0; i < ng; i++)
        if (parse_num(gt[i], &gains[i]) || !(gains[i] >= 0.0))
            return usage_error("floss-cosine",
                               "--gains: expected comma-separated numbers >= 0, got '%s'", gt[i]);

    rp_task *task = NULL;
    char msg[256] = "";
    size_t n_in, n_out, T;
    rp_loss loss;
    if (rp_task_create(&task, rc.task, &rc.tcfg, msg, sizeof msg) != RP_OK ||
        rp_task_get_dims(task, &n_in, &n_out, &T, &loss) != RP_OK) {
        fprintf(stderr, "rnnplast floss-cosine: task: %s\n", msg);
        rp_task_free(task);
        return 1;
    }
    size_t win[MAX_WIN], tr[MAX_WIN], nw = 1, nt;
    win[0] = T;
    if (win_s && (nw = parse_steps(win_s, win, 2, 0)) == 0) {
        rp_task_free(task);
        return usage_error("floss-cosine",
                           "--windows: expected 1..%d distinct step counts 2..%u, got '%.60s'",
                           MAX_WIN, MAX_PERIOD, win_s);
    }
    if ((nt = parse_steps(tr_s, tr, 0, 1)) == 0) {
        rp_task_free(task);
        return usage_error("floss-cosine",
                           "--transients: expected 1..%d distinct step counts or auto, got '%.60s'",
                           MAX_WIN, tr_s);
    }
    /* every (window, transient) must leave a counted window (rp_floss_trial) */
    size_t wmax = 0;
    for (size_t a = 0; a < nw; a++) {
        for (size_t b = 0; b < nt; b++) {
            size_t w = win[a], t0 = tr[b] != TR_AUTO ? tr[b] : win[a] / 4;
            if ((w / t_ons) * t_ons < ((t0 + t_ons - 1) / t_ons + 1) * t_ons) {
                rp_task_free(task);
                return usage_error("floss-cosine",
                                   "window %zu with transient %zu and --t-ons %zu counts no "
                                   "re-orthonormalization window (needs floor(W/t)*t >= "
                                   "(ceil(tr/t)+1)*t)",
                                   w, t0, t_ons);
            }
        }
        if (win[a] > wmax)
            wmax = win[a];
    }
    char real[4096];
    outfile of;
    int of_open = 0, ret = 1;
    if (out_path && (r = out_check("floss-cosine", "--out", out_path, real, sizeof real)) != 0) {
        rp_task_free(task);
        return r;
    }
    const size_t ntr = (wmax + T - 1) / T, P = rc.N * rc.N + rc.N * n_in + rc.N;
    double *x = calloc(ntr * T * (n_in ? n_in : 1) + 1, sizeof *x);
    double *tg = calloc(T * n_out + 1, sizeof *tg), *m = calloc(T + 1, sizeof *m);
    double *gl = calloc(P, sizeof *gl), *ge = calloc(P, sizeof *ge);
    cell *cells = calloc(ng * nw * nt, sizeof *cells);
    rp_net *net = NULL;
    rp_grad *g[2] = {NULL, NULL};
    rp_floss *fl[2] = {NULL, NULL};
    if (!x || !tg || !m || !gl || !ge || !cells) {
        fprintf(stderr, "rnnplast floss-cosine: out of memory\n");
        goto out;
    }
    if (out_path) {
        if (out_open(&of, real) != 0) {
            fprintf(stderr, "rnnplast floss-cosine: cannot write %s: %s\n", out_path,
                    strerror(errno));
            goto out;
        }
        of_open = 1;
        char *pv = prov_lines();
        fputs(pv ? pv : "", of.f);
        free(pv);
        fprintf(of.f, "gain,window,transient,seed,cos_w,cos_all,F,status\n");
    }
    for (size_t gi = 0; gi < ng; gi++)
        for (uint64_t seed = 1; seed <= nseeds; seed++) {
            msg[0] = 0;
            rp_net_free(net);
            net = NULL;
            rp_status st = make_net(&rc, n_in, n_out, gains[gi], seed, &net, msg, sizeof msg);
            /* the trials of pre-flossing (run.c floss_step): trial i from SEED_FLOSS(seed, i) */
            for (size_t i = 0; st == RP_OK && i < ntr; i++)
                st = rp_task_sample(task, 1, SEED_FLOSS(seed, i), x + i * T * n_in, tg, m);
            for (int q = 0; q < 2 && st == RP_OK; q++)
                if (!g[q])
                    st = rp_grad_create(&g[q], net, msg, sizeof msg);
            if (st != RP_OK) {
                fprintf(stderr, "rnnplast floss-cosine: gain %g seed %llu: %s: %s\n", gains[gi],
                        (unsigned long long)seed, rp_status_string(st), msg);
                goto out;
            }
            for (size_t a = 0; a < nw; a++)
                for (size_t b = 0; b < nt; b++) {
                    if (auto_dup(win, tr, nt, a, b))
                        continue;
                    const size_t w = win[a], t0 = tr[b] != TR_AUTO ? tr[b] : win[a] / 4;
                    double F[2] = {NAN, NAN};
                    const char *why = "ok";
                    for (int q = 0; q < 2; q++) {
                        rp_floss_config fc;
                        rp_floss_config_init(&fc, sizeof fc);
                        fc.k = rc.floss_k;
                        fc.target = rc.floss_target;
                        fc.t_ons = t_ons;
                        fc.transient = t0;
                        fc.mode = q ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
                        fc.seed = seed; /* as run.c */
                        rp_floss_free(fl[q]);
                        fl[q] = NULL;
                        st = rp_floss_create(&fl[q], net, &fc, msg, sizeof msg);
                        if (st == RP_OK)
                            st = rp_grad_zero(g[q]);
                        if (st == RP_OK)
                            st = rp_floss_trial(fl[q], net, w, n_in ? x : NULL, g[q], &F[q], NULL);
                        if (st != RP_OK) {
                            why = rp_status_string(st);
                            if (st != RP_ERR_NONFINITE && st != RP_ERR_DIVERGED) {
                                fprintf(stderr, "rnnplast floss-cosine: %s: %s\n", why,
                                        fl[q] ? rp_floss_last_error(fl[q]) : msg);
                                goto out;
                            }
                            break;
                        }
                    }
                    double cw = NAN, call = NAN;
                    if (st == RP_OK) {
                        double *bl[2] = {gl, ge};
                        for (int q = 0; q < 2 && st == RP_OK; q++) {
                            st = rp_grad_get(g[q], RP_PARAM_W, bl[q], rc.N * rc.N);
                            if (st == RP_OK && n_in)
                                st =
                                    rp_grad_get(g[q], RP_PARAM_U, bl[q] + rc.N * rc.N, rc.N * n_in);
                            if (st == RP_OK)
                                st = rp_grad_get(g[q], RP_PARAM_B,
                                                 bl[q] + rc.N * rc.N + rc.N * n_in, rc.N);
                        }
                        if (st != RP_OK) {
                            fprintf(stderr, "rnnplast floss-cosine: rp_grad_get: %s\n",
                                    rp_status_string(st));
                            goto out;
                        }
                        cw = cosine(gl, ge, rc.N * rc.N);
                        call = cosine(gl, ge, P);
                    }
                    cell *c = &cells[(gi * nw + a) * nt + b];
                    if (isfinite(cw)) {
                        c->mn = c->n ? fmin(c->mn, cw) : cw;
                        c->mx = c->n ? fmax(c->mx, cw) : cw;
                        c->s += cw;
                        c->n++;
                    } else {
                        c->failed++;
                        if (st == RP_OK)
                            why = "zero gradient";
                    }
                    if (of_open)
                        fprintf(of.f, "%g,%zu,%zu,%llu,%.6g,%.6g,%.6g,%s\n", gains[gi], w, t0,
                                (unsigned long long)seed, cw, call, F[1], why);
                }
        }
    printf("# cosine(local, exact) of the W flossing gradient on fresh nets: task %s (T %zu), "
           "N %zu, alpha %g, act %s, k %zu, target %g, t_ons %zu, seeds 1..%zu\n",
           rp_task_kind_name(rc.task), T, rc.N, rc.alpha,
           rc.act == RP_ACT_RELU   ? "relu"
           : rc.act == RP_ACT_TANH ? "tanh"
                                   : "linear",
           rc.floss_k, rc.floss_target, t_ons, nseeds);
    printf("%6s %7s %10s %4s %8s %8s %8s %s\n", "g", "window", "transient", "n", "mean", "min",
           "max", "failed");
    double best = -INFINITY;
    size_t ba = 0, bb = 0;
    for (size_t a = 0; a < nw; a++)
        for (size_t b = 0; b < nt; b++) {
            if (auto_dup(win, tr, nt, a, b))
                continue;
            double s = 0.0;
            size_t cnt = 0;
            for (size_t gi = 0; gi < ng; gi++) {
                const cell *c = &cells[(gi * nw + a) * nt + b];
                printf("%6g %7zu %10zu %4zu %8.3f %8.3f %8.3f %zu\n", gains[gi], win[a],
                       tr[b] != TR_AUTO ? tr[b] : win[a] / 4, c->n,
                       c->n ? c->s / (double)c->n : NAN, c->n ? c->mn : NAN, c->n ? c->mx : NAN,
                       c->failed);
                s += c->s;
                cnt += c->n;
            }
            if (cnt && s / (double)cnt > best)
                best = s / (double)cnt, ba = a, bb = b;
        }
    if (isfinite(best))
        printf("largest mean cosine over gains and seeds: window %zu, transient %zu: %.3f\n",
               win[ba], tr[bb] != TR_AUTO ? tr[bb] : win[ba] / 4, best);
    else
        printf("no finite cosine\n");
    ret = 0;
    if (of_open) {
        of_open = 0;
        if (out_commit(&of) != 0) {
            fprintf(stderr, "rnnplast floss-cosine: cannot write %s: %s\n", out_path,
                    strerror(errno));
            ret = 1;
        }
    }
out:
    if (of_open)
        out_abort(&of);
    for (int q = 0; q < 2; q++) {
        rp_floss_free(fl[q]);
        rp_grad_free(g[q]);
    }
    rp_net_free(net);
    rp_task_free(task);
    free(x);
    free(tg);
    free(m);
    free(gl);
    free(ge);
    free(cells);
    return ret;
}
