/* The issue-14 driver, reconstructed from its recipe (issue 14, "A separate
   driver of ours"): one training run of the 2af task written against the
   public C API only (include/rnnplast.h), with its own task generator,
   scoring and flossing loop, so that each factor in which it differs from
   `rnnplast sweep` is a flag and can be switched to the tool's choice one at
   a time (scripts/ablation/ablation.sh).
   The library supplies the network, the learning rules (rp_rule_trial), the
   flossing gradient (rp_floss_trial) and Adam (rp_optim; the recipe's "its
   own Adam" for flossing is a second rp_optim instance).

   Built by scripts/ablation/ablation.sh (build/ablation_driver; gcc and
   clang, -Wall -Wextra -Werror); `build/ablation_driver --help` prints the flags.  Prints one CSV line:
   rule,gain,seed,floss_iters,acc,resp,lam_before,lam_after,F_first,F_last,train_loss

   Defaults = the recipe.  The tool's choices, factor by factor:
     --readout ce      3-class CE, targets class 0 before the decision, scored by
                       one choice per trial (argmax of the decision-period sums,
                       ties to the lower class; fixate = no response); the
                       recipe: --readout mse, one output, targets 0 then +-1,
                       scored by the sign of the decision-period sum
     --fix-weight 0.1  loss weight of non-decision steps (recipe 1: unmasked)
     --sigma 0.1       evidence noise per step (recipe 1)
     --coherences 0.128,0.256,0.512  (recipe: one constant offset, the
                       evidence means (1 +- 0.5)/2 = 0.75 / 0.25 on the two
                       channels: our reading of "around a constant offset", the
                       one that gives the table in kind; with the tool's
                       coherence set an ideal observer of sigma 1 scores only 0.73)
     --clip 1          task gradient-norm clip (recipe 0)
     --floss-k 1, --floss-lr (task lr), --floss-clip 1, --floss-transient 9 (T/4),
     --floss-iters 50, --floss-optim shared (the task's Adam, moments reset after
     pre-flossing), --floss-params all */
#include "rnnplast.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        rp_status st_ = (call);                                                                    \
        if (st_ != RP_OK) {                                                                        \
            fprintf(stderr, "driver: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,                  \
                    rp_status_string(st_));                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the driver's own random numbers (splitmix64 + Box-Muller) ----------- */

static uint64_t sm64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif(uint64_t *s) { return ((double)(sm64(s) >> 11) + 0.5) * 0x1.0p-53; }
static double gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(unif(s))) * cos(6.283185307179586 * unif(s));
}

/* ---- settings --------------------------------------------------------------- */

typedef struct cfg {
    const char *rule, *readout, *floss_optim, *floss_params, *floss_mode;
    double gain, alpha, lr, clip, sigma, fix_weight, floss_lr, floss_clip, floss_target;
    double coh[8];
    size_t ncoh, N, batch, iters, test_batch, fix, stim, delay, dec;
    size_t floss_iters, floss_k, floss_transient, floss_tons;
    uint64_t seed;
} cfg;

static void usage(int st)
{
    fprintf(stderr,
            "usage: driver [--rule bptt|eprop] [--gain G] [--seed S] [--N 64] [--batch 32]\n"
            "  [--alpha 0.5] [--iters 600] [--lr 3e-3] [--clip 0] [--test-batch 512]\n"
            "  [--readout mse|ce] [--sigma 1] [--fix-weight 1] [--coherences 0.5]\n"
            "  [--fixation 3] [--stimulus 10] [--delay 20] [--decision 3]\n"
            "  [--floss-iters 0] [--floss-k 8] [--floss-lr 3e-3] [--floss-clip 0]\n"
            "  [--floss-transient 5] [--floss-tons 1] [--floss-target 0]\n"
            "  [--floss-optim own|shared|shared-keep] [--floss-params W|all]\n"
            "  [--floss-mode local|exact]\n");
    exit(st);
}

static void parse(cfg *c, int argc, char **argv)
{
    *c = (cfg){.rule = "eprop",
               .readout = "mse",
               .floss_optim = "own",
               .floss_params = "W",
               .floss_mode = "local",
               .gain = 0.5,
               .alpha = 0.5,
               .lr = 3e-3,
               .clip = 0.0,
               .sigma = 1.0,
               .fix_weight = 1.0,
               .floss_lr = 3e-3,
               .floss_clip = 0.0,
               .floss_target = 0.0,
               .coh = {0.5},
               .ncoh = 1,
               .N = 64,
               .batch = 32,
               .iters = 600,
               .test_batch = 512,
               .fix = 3,
               .stim = 10,
               .delay = 20,
               .dec = 3,
               .floss_iters = 0,
               .floss_k = 8,
               .floss_transient = 5,
               .floss_tons = 1,
               .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(0);
        }
        if (!v || strncmp(a, "--", 2) != 0)
            usage(2);
        i++;
        a += 2;
#define D(name, field)                                                                             \
    if (strcmp(a, name) == 0) {                                                                    \
        c->field = strtod(v, NULL);                                                                \
        continue;                                                                                  \
    }
#define Z(name, field)                                                                             \
    if (strcmp(a, name) == 0) {                                                                    \
        c->field = (size_t)strtoull(v, NULL, 10);                                                  \
        continue;                                                                                  \
    }
#define S(name, field)                                                                             \
    if (strcmp(a, name) == 0) {                                                                    \
        c->field = v;                                                                              \
        continue;                                                                                  \
    }
        S("rule", rule) S("readout", readout) S("floss-optim", floss_optim);
        S("floss-params", floss_params) S("floss-mode", floss_mode);
        D("gain", gain) D("alpha", alpha) D("lr", lr) D("clip", clip) D("sigma", sigma);
        D("fix-weight", fix_weight) D("floss-lr", floss_lr) D("floss-clip", floss_clip);
        D("floss-target", floss_target);
        Z("N", N) Z("batch", batch) Z("iters", iters) Z("test-batch", test_batch);
        Z("fixation", fix) Z("stimulus", stim) Z("delay", delay) Z("decision", dec);
        Z("floss-iters", floss_iters) Z("floss-k", floss_k);
        Z("floss-transient", floss_transient) Z("floss-tons", floss_tons);
        if (strcmp(a, "seed") == 0) {
            c->seed = strtoull(v, NULL, 10);
            continue;
        }
        if (strcmp(a, "coherences") == 0) {
            char buf[256], *save = NULL;
            snprintf(buf, sizeof buf, "%s", v);
            c->ncoh = 0;
            for (char *t = strtok_r(buf, ",", &save); t && c->ncoh < 8; t = strtok_r(NULL, ",", &save))
                c->coh[c->ncoh++] = strtod(t, NULL);
            continue;
        }
        usage(2);
    }
    if (strcmp(c->readout, "mse") && strcmp(c->readout, "ce"))
        usage(2);
}

/* ---- the task: 2af, evidence around the offset 1/2 on two channels -------- */

/* Inputs: 0 the fixation cue (1 until the decision period), 1 and 2 the
   evidence during the stimulus, (1 +- c)/2 + sigma xi each step (the tool's
   coding, so that sigma is the one difference).  Targets: MSE, one readout,
   0 before the decision and s = +1 (choice 1) or -1 (choice 2) during it;
   CE, class 0 then the choice class 1 or 2.  Mask: 1 on decision steps,
   fix_weight elsewhere (the recipe: 1, the delay unmasked).  ans[b] is the
   choice, +1 or -1.  Layout as rp_rule_trial's: x[(t B + b) n_in + i]. */
static void sample(const cfg *c, size_t B, uint64_t seed, double *x, double *tg, double *m,
                   int *ans)
{
    const size_t T = c->fix + c->stim + c->delay + c->dec, n_in = 3, t_dec = T - c->dec;
    const int ce = strcmp(c->readout, "ce") == 0;
    uint64_t s = seed * 0xD1B54A32D192ED03ULL + 7;
    memset(x, 0, T * B * n_in * sizeof *x);
    for (size_t b = 0; b < B; b++) {
        int k = (sm64(&s) >> 63) ? 1 : -1;
        double coh = c->coh[sm64(&s) % c->ncoh];
        ans[b] = k;
        for (size_t t = c->fix; t < c->fix + c->stim; t++) {
            x[(t * B + b) * n_in + 1] = (1.0 + k * coh) / 2 + c->sigma * gauss(&s);
            x[(t * B + b) * n_in + 2] = (1.0 - k * coh) / 2 + c->sigma * gauss(&s);
        }
        for (size_t t = 0; t < T; t++) {
            int dec = t >= t_dec;
            x[(t * B + b) * n_in + 0] = dec ? 0.0 : 1.0;
            tg[t * B + b] = !dec ? 0.0 : ce ? (k > 0 ? 1.0 : 2.0) : (double)k;
            m[t * B + b] = dec ? 1.0 : c->fix_weight;
        }
    }
}

/* Accuracy on B trials from outputs y (T*B*n_out).  MSE: the sign of the
   decision-period sum of the one readout (0 counts as wrong).  CE: the
   class with the largest decision-period sum (ties to the lower class, so a
   tie with fixate is no response) must be the answer; resp = fraction not
   choosing fixate. */
static void score(const cfg *c, size_t B, const double *y, const int *ans, double *acc,
                  double *resp)
{
    const size_t T = c->fix + c->stim + c->delay + c->dec, t_dec = T - c->dec;
    const int ce = strcmp(c->readout, "ce") == 0;
    const size_t no = ce ? 3 : 1;
    size_t right = 0, responded = 0;
    for (size_t b = 0; b < B; b++) {
        double sum[3] = {0, 0, 0};
        for (size_t t = t_dec; t < T; t++)
            for (size_t o = 0; o < no; o++)
                sum[o] += y[(t * B + b) * no + o];
        if (ce) {
            size_t best = 0;
            for (size_t o = 1; o < 3; o++)
                if (sum[o] > sum[best])
                    best = o;
            responded += best != 0;
            right += best == (ans[b] > 0 ? 1u : 2u);
        } else {
            responded += sum[0] != 0.0;
            right += sum[0] * ans[b] > 0.0;
        }
    }
    *acc = (double)right / (double)B;
    *resp = (double)responded / (double)B;
}

/* lambda_max per step of the net on 10 task trials from their own initial
   state (transient 5 steps), the mean over trials: a summary printed beside
   the accuracy, not one of the ablated factors. */
static double lmax(const cfg *c, const rp_net *net, double *x1, double *x, double *tg, double *m,
                   int *ans)
{
    const size_t T = c->fix + c->stim + c->delay + c->dec;
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = 5;
    double s = 0.0;
    int n = 0;
    for (int i = 0; i < 10; i++) {
        rp_lyap *ly = NULL;
        CHECK(rp_lyap_create(&ly, net, 1, &lc, NULL, 0));
        sample(c, 1, 424242 + (uint64_t)i, x, tg, m, ans);
        memcpy(x1, x, T * 3 * sizeof *x);
        double l;
        if (rp_lyap_run(ly, net, T, x1) == RP_OK && rp_lyap_get_spectrum(ly, &l, 1) == RP_OK &&
            isfinite(l)) {
            s += l;
            n++;
        }
        rp_lyap_free(ly);
    }
    return n ? s / n : NAN;
}

static void set_trainable_all(rp_optim *o, int w_only)
{
    for (int p = 0; p < RP_PARAM_COUNT; p++)
        CHECK(rp_optim_set_trainable(o, (rp_param)p, !w_only || p == RP_PARAM_W));
}

int main(int argc, char **argv)
{
    cfg c;
    parse(&c, argc, argv);
    const int ce = strcmp(c.readout, "ce") == 0;
    const size_t n_in = 3, n_out = ce ? 3 : 1, T = c.fix + c.stim + c.delay + c.dec;
    const size_t B = c.batch, TB = c.test_batch, maxB = B > TB ? B : TB;
    const rp_rule_kind rk = strcmp(c.rule, "bptt") == 0 ? RP_RULE_BPTT : RP_RULE_EPROP;

    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = n_in;
    nc.n_rec = c.N;
    nc.n_out = n_out;
    nc.batch = B;
    nc.alpha = c.alpha;
    nc.seed = c.seed;
    rp_net *net = NULL;
    CHECK(rp_net_create(&net, &nc, NULL, 0));
    /* MODEL.md §2: W ~ N(0, g^2/N), U ~ N(0, 1/n_in), V ~ N(0, 1/N), biases 0;
       the driver's own seeds */
    rp_init *init = NULL;
    CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0));
    CHECK(rp_init_set_gain(init, c.gain));
    CHECK(rp_init_apply(init, net, RP_PARAM_W, 1000 + c.seed));
    CHECK(rp_init_set_gain(init, 1.0));
    CHECK(rp_init_apply(init, net, RP_PARAM_U, 2000 + c.seed));
    CHECK(rp_init_apply(init, net, RP_PARAM_V, 3000 + c.seed));
    rp_init_free(init);

    double *x = calloc(T * maxB * n_in, sizeof *x), *tg = calloc(T * maxB, sizeof *tg);
    double *m = calloc(T * maxB, sizeof *m), *zero = calloc(c.N * n_in + c.N, sizeof *zero);
    double *y = calloc(T * maxB * n_out, sizeof *y), *x1 = calloc(T * n_in, sizeof *x1);
    int *ans = calloc(maxB, sizeof *ans);
    if (!x || !tg || !zero || !m || !y || !x1 || !ans)
        return 1;

    rp_grad *g = NULL;
    CHECK(rp_grad_create(&g, net, NULL, 0));
    rp_rule *rule = NULL;
    CHECK(rp_rule_create(&rule, net, rk, NULL, 0));
    CHECK(rp_rule_set_loss(rule, ce ? RP_LOSS_CE : RP_LOSS_MSE));
    rp_optim *opt = NULL;
    CHECK(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0));
    CHECK(rp_optim_set_lr(opt, c.lr));
    CHECK(rp_optim_set_clip(opt, c.clip));

    double lam_before = lmax(&c, net, x1, x, tg, m, ans), F0 = NAN, F1 = NAN;

    /* Pre-flossing on single task trials (MODEL.md §7.3). */
    if (c.floss_iters) {
        rp_floss_config fc;
        rp_floss_config_init(&fc, sizeof fc);
        fc.k = c.floss_k;
        fc.target = c.floss_target;
        fc.t_ons = c.floss_tons;
        fc.transient = c.floss_transient;
        fc.mode = strcmp(c.floss_mode, "exact") == 0 ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        fc.seed = c.seed;
        rp_floss *fl = NULL;
        CHECK(rp_floss_create(&fl, net, &fc, NULL, 0));
        const int own = strcmp(c.floss_optim, "own") == 0;
        const int w_only = strcmp(c.floss_params, "W") == 0;
        rp_optim *fo = opt;
        if (own)
            CHECK(rp_optim_create(&fo, net, RP_OPTIM_ADAM, NULL, 0));
        CHECK(rp_optim_set_lr(fo, c.floss_lr));
        CHECK(rp_optim_set_clip(fo, c.floss_clip));
        set_trainable_all(fo, w_only);
        for (size_t i = 0; i < c.floss_iters; i++) {
            sample(&c, 1, 7000000 + c.seed * 100003 + i, x1, tg, m, ans);
            double F;
            CHECK(rp_grad_zero(g));
            rp_status st = rp_floss_trial(fl, net, T, x1, g, &F, NULL);
            if (st != RP_OK) {
                fprintf(stderr, "driver: flossing step %zu: %s: %s\n", i, rp_status_string(st),
                        rp_floss_last_error(fl));
                return 1;
            }
            if (w_only) { /* only W moves: the U and b blocks of the gradient dropped */
                CHECK(rp_grad_set(g, RP_PARAM_U, zero, c.N * n_in));
                CHECK(rp_grad_set(g, RP_PARAM_B, zero, c.N));
            }
            if (i == 0)
                F0 = F;
            F1 = F;
            CHECK(rp_optim_step(fo, net, g));
        }
        rp_floss_free(fl);
        if (own)
            rp_optim_free(fo);
        /* the task optimizer back to the task settings; "shared" (the tool's
           choice) starts training with fresh moments, "shared-keep" keeps them */
        CHECK(rp_optim_set_lr(opt, c.lr));
        CHECK(rp_optim_set_clip(opt, c.clip));
        set_trainable_all(opt, 0);
        if (!own && strcmp(c.floss_optim, "shared") == 0)
            CHECK(rp_optim_reset(opt));
    }

    /* Training: Adam on every parameter. */
    double loss = NAN;
    for (size_t it = 0; it < c.iters; it++) {
        sample(&c, B, 1000003 * c.seed + 17 + it, x, tg, m, ans);
        const double *target = tg;
        CHECK(rp_grad_zero(g));
        rp_status st = rp_rule_trial(rule, net, T, x, target, m, g, &loss);
        if (st != RP_OK) {
            fprintf(stderr, "driver: iteration %zu: %s: %s\n", it, rp_status_string(st),
                    rp_rule_last_error(rule));
            break;
        }
        CHECK(rp_optim_step(opt, net, g));
    }

    /* Test: TB fresh trials, the same for every run. */
    double acc = NAN, resp = NAN;
    CHECK(rp_net_set_batch(net, TB));
    sample(&c, TB, 99991, x, tg, m, ans);
    CHECK(rp_net_reset(net));
    if (rp_net_run(net, T, x, y) == RP_OK)
        score(&c, TB, y, ans, &acc, &resp);
    CHECK(rp_net_set_batch(net, 1));
    double lam_after = lmax(&c, net, x1, x, tg, m, ans);
    printf("%s,%g,%llu,%zu,%.4f,%.4f,%.4f,%.4f,%.5g,%.5g,%.5g\n", c.rule, c.gain,
           (unsigned long long)c.seed, c.floss_iters, acc, resp, lam_before, lam_after, F0, F1,
           loss);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_grad_free(g);
    rp_net_free(net);
    free(x), free(tg), free(zero), free(m), free(y), free(x1), free(ans);
    return 0;
}
