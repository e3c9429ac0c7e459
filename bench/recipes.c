/* recipes — the measurements behind docs/RECIPES.md: for each learning rule
   (BPTT, e-prop, RFLO) x optimizer (SGD, Adam) x activation (relu, tanh),
   the test loss after a short training run on the perceptual decision task
   (2af, cross-entropy) over a grid of learning rates and a few seeds; then
   the Dale + relu + e-prop (random feedback) case at gain 1.5 with the
   settings that do and do not make it train, on the default 2af trial
   (T = 16) and a long one (delay 40, T = 56); then the learning rate of
   gradient flossing (example 03's setting, smaller).  e-prop uses its
   default symmetric feedback in the main grid, RFLO its random one.

   Every run has the divergence guard on (rp_net_set_state_bound, bound
   RECIPE_BOUND on |h|): a run that leaves it stops with RP_ERR_DIVERGED and
   counts as diverged, as does a non-finite status.  Gradient clipping is
   off (the library's default) unless a row says otherwise.  Each cell prints
   the median over seeds of the final test loss (128 fresh trials) divided
   by the initial test loss (< 1: it learned), "*" if some seed did not end
   below its initial loss, or "div" if any seed diverged; the last column,
   "stable", is the longest run of learning rates where every seed learned.

   Usage: recipes [commit]   (scripts/recipes.sh passes `git describe`);
   OPENBLAS_NUM_THREADS=1.  A measurement program: prints, never asserts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N = 32, B = 16, TEST_B = 128, ITERS = 200, SEEDS = 5, NLR = 8 };
#define RECIPE_BOUND 1e4
#define GAIN 1.5

typedef struct recipe {
    rp_rule_kind rule;
    rp_optim_kind optim;
    rp_activation act;
    int dale;      /* W from RP_INIT_DALE instead of gaussian */
    int structure; /* rp_optim_set_structure(W, keep signs) */
    double clip;   /* rp_optim_set_clip, 0 = off */
    double gain;
    int random_fb; /* e-prop with random feedback (RFLO has it by default) */
    size_t n_rec;  /* 0: N */
} recipe;

static const char *rule_name(rp_rule_kind k)
{
    return k == RP_RULE_BPTT ? "bptt" : k == RP_RULE_EPROP ? "eprop" : "rflo";
}

/* One training run; returns final/initial test loss, or INFINITY if the run
   diverged (the guard's status, a non-finite one, or a test loss above 1e6). */
static double run(const recipe *r, double lr, uint64_t seed, rp_task *task, size_t n_in,
                  size_t n_out, size_t T, rp_loss loss, double *x, double *tg, double *mask,
                  double *y)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = n_in, c.n_rec = r->n_rec ? r->n_rec : N, c.n_out = n_out, c.batch = B, c.act = r->act;
    rp_net *net = NULL;
    rp_init *in = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    double out = INFINITY, first = 0.0, test = 0.0;
    if (rp_net_create(&net, &c, NULL, 0) ||
        rp_init_create(&in, r->dale ? RP_INIT_DALE : RP_INIT_GAUSSIAN, NULL, 0) ||
        rp_init_set_gain(in, r->gain) || rp_init_apply(in, net, RP_PARAM_W, seed))
        goto done;
    rp_init_free(in); /* U and V: Gaussian, gain 1 */
    in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0) ||
        rp_init_apply(in, net, RP_PARAM_U, seed + 1) ||
        rp_init_apply(in, net, RP_PARAM_V, seed + 2) || rp_net_set_state_bound(net, RECIPE_BOUND) ||
        rp_rule_create(&rule, net, r->rule, NULL, 0) || rp_rule_set_loss(rule, loss) ||
        rp_optim_create(&opt, net, r->optim, NULL, 0) || rp_optim_set_lr(opt, lr) ||
        rp_optim_set_clip(opt, r->clip) || rp_grad_create(&g, net, NULL, 0))
        goto done;
    if (r->random_fb && rp_rule_set_feedback(rule, RP_FEEDBACK_RANDOM, seed + 3))
        goto done;
    if (r->structure && rp_optim_set_structure(opt, net, RP_PARAM_W, 0, 1))
        goto done;
    for (int it = 0; it <= ITERS; it++) {
        if (it % ITERS == 0) { /* test loss on the same fresh trials, before and after */
            if (rp_net_set_batch(net, TEST_B) || rp_task_sample(task, TEST_B, 999, x, tg, mask))
                goto done;
            if (rp_net_run(net, T, x, y) != RP_OK ||
                rp_task_score(task, TEST_B, y, tg, mask, &test, NULL) != RP_OK || !(test < 1e6))
                goto done;
            if (it == 0)
                first = test;
            if (rp_net_set_batch(net, B))
                goto done;
        }
        if (it == ITERS)
            break;
        if (rp_task_sample(task, B, seed * 100003u + (uint64_t)it, x, tg, mask) || rp_grad_zero(g))
            goto done;
        if (rp_rule_trial(rule, net, T, x, tg, mask, g, NULL) != RP_OK ||
            rp_optim_step(opt, net, g) != RP_OK)
            goto done;
    }
    out = test / first;
done:
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_init_free(in);
    rp_net_free(net);
    return out;
}

/* One cell from the seeds' ratios; returns 1 if every seed improved
   (ratio < 1) and none diverged. */
static int cell(double *v)
{
    int div = 0, bad = 0;
    for (int s = 0; s < SEEDS; s++) {
        div |= !isfinite(v[s]);
        bad |= !(v[s] < 1.0);
    }
    if (div)
        printf("     div |");
    else
        printf(" %6.3f%s |", bu_median(v, SEEDS), bad ? "*" : " ");
    fflush(stdout);
    return !bad;
}

/* The longest run of consecutive learning rates whose cells are ok. */
static void stable(const double *lrs, const int *ok)
{
    int best = 0, at = 0;
    for (int k = 0; k < NLR; k++) {
        int n = 0;
        while (k + n < NLR && ok[k + n])
            n++;
        if (n > best)
            best = n, at = k;
    }
    if (best)
        printf(" %g to %g |\n", lrs[at], lrs[at + best - 1]);
    else
        printf(" none |\n");
}

enum { FLOSS_T = 300, FLOSS_ITERS = 30 };

/* Local flossing of an autonomous tanh net (example 03's setting, smaller):
   |lambda_max| after FLOSS_ITERS steps over |lambda_max| before, both from
   rp_floss_trial; INFINITY if a status was not RP_OK. */
static double floss_run(double gain, rp_optim_kind ok, double lr, uint64_t seed)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 0, c.n_rec = N, c.act = RP_ACT_TANH, c.alpha = 0.5;
    rp_net *net = NULL;
    rp_init *in = NULL;
    rp_floss *fl = NULL;
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    double out = INFINITY, before = 0.0, lam = 0.0, h0[N];
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        h0[i] = (double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0;
    }
    rp_floss_config fc;
    rp_floss_config_init(&fc, sizeof fc);
    fc.transient = 100;
    if (rp_net_create(&net, &c, NULL, 0) || rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0) ||
        rp_init_set_gain(in, gain) || rp_init_apply(in, net, RP_PARAM_W, seed) ||
        rp_net_set_initial_state(net, h0, N) || rp_floss_create(&fl, net, &fc, NULL, 0) ||
        rp_grad_create(&g, net, NULL, 0) || rp_optim_create(&opt, net, ok, NULL, 0) ||
        rp_optim_set_lr(opt, lr))
        goto done;
    for (int p = RP_PARAM_U; p <= RP_PARAM_C; p++)
        if (rp_optim_set_trainable(opt, (rp_param)p, 0))
            goto done;
    for (int it = 0; it <= FLOSS_ITERS; it++) {
        if (rp_grad_zero(g) || rp_floss_trial(fl, net, FLOSS_T, NULL, g, NULL, &lam) != RP_OK)
            goto done;
        if (it == 0)
            before = lam;
        if (it < FLOSS_ITERS && rp_optim_step(opt, net, g) != RP_OK)
            goto done;
    }
    out = fabs(lam) / fabs(before);
done:
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_floss_free(fl);
    rp_init_free(in);
    rp_net_free(net);
    return out;
}

static void row(const char *label, const recipe *r, const double *lrs, rp_task *task, size_t n_in,
                size_t n_out, size_t T, rp_loss loss, double *x, double *tg, double *mask,
                double *y)
{
    printf("| %-30s |", label);
    int ok[NLR];
    for (int k = 0; k < NLR; k++) {
        double v[SEEDS];
        for (int s = 0; s < SEEDS; s++)
            v[s] = run(r, lrs[k], 1000u * (uint64_t)(s + 1), task, n_in, n_out, T, loss, x, tg,
                       mask, y);
        ok[k] = cell(v);
    }
    stable(lrs, ok);
}

static void header(const char *what, const double *lrs)
{
    printf("\n| %-30s |", what);
    for (int k = 0; k < NLR; k++)
        printf(" %7g |", lrs[k]);
    printf(" stable |\n|%s|", "--------------------------------");
    for (int k = 0; k < NLR; k++)
        printf("--------:|");
    printf("--------|\n");
}

int main(int argc, char **argv)
{
    double t0 = bu_now();
    rp_task *task = NULL;
    size_t n_in, n_out, T;
    rp_loss loss;
    if (rp_task_create(&task, RP_TASK_2AF, NULL, NULL, 0) ||
        rp_task_get_dims(task, &n_in, &n_out, &T, &loss))
        return 1;
    double *x = malloc(T * TEST_B * n_in * sizeof *x), *tg = malloc(T * TEST_B * sizeof *tg),
           *mask = malloc(T * TEST_B * sizeof *mask), *y = malloc(T * TEST_B * n_out * sizeof *y);
    if (!x || !tg || !mask || !y)
        return 1;
    printf("recipes at commit %s: task 2af (T = %zu, CE), N = %d, batch %d, %d iterations, "
           "gain %.1f, %d seeds, no clipping, state bound %g\n"
           "cell: median over seeds of final/initial test loss (< 1: learned); *: some seed did "
           "not improve; div: some seed diverged (stopped by the bound or non-finite);\n"
           "stable: the longest run of learning rates where every seed improved\n",
           argc > 1 ? argv[1] : "unknown", T, N, B, ITERS, GAIN, SEEDS, RECIPE_BOUND);

    static const double lr_adam[NLR] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};
    static const double lr_sgd[NLR] = {1e-2, 3e-2, 0.1, 0.3, 1, 3, 10, 30};
    static const rp_rule_kind rules[3] = {RP_RULE_BPTT, RP_RULE_EPROP, RP_RULE_RFLO};
    for (int o = 0; o < 2; o++) {
        const rp_optim_kind ok = o ? RP_OPTIM_SGD : RP_OPTIM_ADAM;
        const double *lrs = o ? lr_sgd : lr_adam;
        header(o ? "SGD, learning rate" : "Adam, learning rate", lrs);
        for (int ru = 0; ru < 3; ru++)
            for (int a = 0; a < 2; a++) {
                recipe r = {rules[ru], ok, a ? RP_ACT_TANH : RP_ACT_RELU, 0, 0, 0.0, GAIN, 0, 0};
                char label[64];
                snprintf(label, sizeof label, "%s %s", rule_name(rules[ru]), a ? "tanh" : "relu");
                row(label, &r, lrs, task, n_in, n_out, T, loss, x, tg, mask, y);
            }
    }

    /* Dale + relu + e-prop with random feedback (the first-use report's
       case) on the default task and on a long one (delay 40: T = 56), N = 64 */
    rp_task_config lc;
    rp_task_config_init(&lc, sizeof lc, RP_TASK_2AF);
    lc.delay = 40;
    rp_task *longt = NULL;
    size_t Tl;
    if (rp_task_create(&longt, RP_TASK_2AF, &lc, NULL, 0) ||
        rp_task_get_dims(longt, &n_in, &n_out, &Tl, &loss))
        return 1;
    double *xl = malloc(Tl * TEST_B * n_in * sizeof *xl), *tgl = malloc(Tl * TEST_B * sizeof *tgl),
           *maskl = malloc(Tl * TEST_B * sizeof *maskl),
           *yl = malloc(Tl * TEST_B * n_out * sizeof *yl);
    if (!xl || !tgl || !maskl || !yl)
        return 1;
    static const struct {
        const char *label;
        recipe r;
    } dale[] = {
        {"relu g 1.5", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 0, 0.0, 1.5, 1, 64}},
        {"relu g 1.5, structure",
         {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 0.0, 1.5, 1, 64}},
        {"relu g 1.5, structure, clip 1",
         {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 1.0, 1.5, 1, 64}},
        {"relu g 1.0, structure",
         {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 0.0, 1.0, 1, 64}},
        {"tanh g 1.5, structure",
         {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_TANH, 1, 1, 0.0, 1.5, 1, 64}},
    };
    for (int t = 0; t < 2; t++) {
        header(t ? "Dale N 64, e-prop random, T 56" : "Dale N 64, e-prop random, T 16", lr_adam);
        for (size_t i = 0; i < sizeof dale / sizeof dale[0]; i++) {
            if (t)
                row(dale[i].label, &dale[i].r, lr_adam, longt, n_in, n_out, Tl, loss, xl, tgl,
                    maskl, yl);
            else
                row(dale[i].label, &dale[i].r, lr_adam, task, n_in, n_out, T, loss, x, tg, mask, y);
        }
    }
    free(xl);
    free(tgl);
    free(maskl);
    free(yl);
    rp_task_free(longt);

    static const double lr_floss_sgd[NLR] = {0.3, 1, 3, 10, 30, 100, 300, 1000};
    static const double lr_floss_adam[NLR] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};
    printf("\nflossing: |lambda_max| after %d steps / before (local, k 1, target 0, W only), "
           "tanh N %d, alpha 0.5, autonomous, T %d\n",
           FLOSS_ITERS, N, FLOSS_T);
    for (int o = 0; o < 2; o++) {
        const double *lrs = o ? lr_floss_adam : lr_floss_sgd;
        header(o ? "flossing, Adam" : "flossing, SGD", lrs);
        for (int gi = 0; gi < 2; gi++) {
            const double gain = gi ? 2.0 : 0.5;
            printf("| g %-28.1f |", gain);
            int ok[NLR];
            for (int k = 0; k < NLR; k++) {
                double v[SEEDS];
                for (int sd = 0; sd < SEEDS; sd++)
                    v[sd] =
                        floss_run(gain, o ? RP_OPTIM_ADAM : RP_OPTIM_SGD, lrs[k], (uint64_t)sd + 1);
                ok[k] = cell(v);
            }
            stable(lrs, ok);
        }
    }

    printf("\n%.0f s\n", bu_now() - t0);
    free(x);
    free(tg);
    free(mask);
    free(y);
    rp_task_free(task);
    return 0;
}
