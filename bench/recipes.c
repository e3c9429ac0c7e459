/* recipes — the measurements behind docs/RECIPES.md: for each learning rule
   (BPTT, e-prop, RFLO) x optimizer (SGD, Adam) x activation (relu, tanh),
   the test loss after a short training run on the perceptual decision task
   (2af, cross-entropy) over a grid of learning rates and a few seeds; then
   the Dale + relu + e-prop case at gain 1.5 with the settings that do and do
   not make it train; then the learning rate of gradient flossing.

   Every run has the divergence guard on (rp_net_set_state_bound, bound
   RECIPE_BOUND on |h|): a run that leaves it stops with RP_ERR_DIVERGED and
   counts as diverged, as does a non-finite status.  Gradient clipping is
   off (the library's default) unless a row says otherwise.  Each cell prints
   the median over seeds of the final test loss (128 fresh trials) divided
   by the initial test loss (< 1: it learned), or "div" if any seed diverged;
   "ok" ranges in RECIPES.md are the learning rates whose every seed ended
   below its initial loss.

   Usage: recipes [commit]   (scripts/recipes.sh passes `git describe`);
   OPENBLAS_NUM_THREADS=1.  A measurement program: prints, never asserts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N = 32, B = 16, TEST_B = 128, ITERS = 200, SEEDS = 3, NLR = 8 };
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
    rp_net_config c = rp_net_config_default();
    c.n_in = n_in, c.n_rec = N, c.n_out = n_out, c.batch = B, c.act = r->act;
    rp_net *net = NULL;
    rp_init *in = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    double out = INFINITY, first = 0.0, test = 0.0;
    if (rp_net_create(&net, &c) || rp_init_create(&in, r->dale ? RP_INIT_DALE : RP_INIT_GAUSSIAN) ||
        rp_init_set_gain(in, r->gain) || rp_init_apply(in, net, RP_PARAM_W, seed))
        goto done;
    rp_init_free(in); /* U and V: Gaussian, gain 1 */
    in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN) || rp_init_apply(in, net, RP_PARAM_U, seed + 1) ||
        rp_init_apply(in, net, RP_PARAM_V, seed + 2) || rp_net_set_state_bound(net, RECIPE_BOUND) ||
        rp_rule_create(&rule, net, r->rule) || rp_rule_set_loss(rule, loss) ||
        rp_optim_create(&opt, net, r->optim) || rp_optim_set_lr(opt, lr) ||
        rp_optim_set_clip(opt, r->clip) || rp_grad_create(&g, net))
        goto done;
    if (r->rule != RP_RULE_BPTT && rp_rule_set_feedback(rule, RP_FEEDBACK_RANDOM, seed + 3))
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

static void row(const char *label, const recipe *r, const double *lrs, rp_task *task, size_t n_in,
                size_t n_out, size_t T, rp_loss loss, double *x, double *tg, double *mask, double *y)
{
    printf("| %-28s |", label);
    for (int k = 0; k < NLR; k++) {
        double v[SEEDS];
        int div = 0;
        for (int s = 0; s < SEEDS; s++) {
            v[s] = run(r, lrs[k], 1000u * (uint64_t)(s + 1), task, n_in, n_out, T, loss, x, tg, mask, y);
            div |= !isfinite(v[s]);
        }
        if (div)
            printf("    div |");
        else
            printf(" %6.3f |", bu_median(v, SEEDS));
        fflush(stdout);
    }
    printf("\n");
}

static void header(const char *what, const double *lrs)
{
    printf("\n| %-28s |", what);
    for (int k = 0; k < NLR; k++)
        printf(" %6g |", lrs[k]);
    printf("\n|%s|", "------------------------------");
    for (int k = 0; k < NLR; k++)
        printf("-------:|");
    printf("\n");
}

int main(int argc, char **argv)
{
    double t0 = bu_now();
    rp_task *task = NULL;
    size_t n_in, n_out, T;
    rp_loss loss;
    if (rp_task_create(&task, RP_TASK_2AF, NULL) || rp_task_dims(task, &n_in, &n_out, &T, &loss))
        return 1;
    double *x = malloc(T * TEST_B * n_in * sizeof *x), *tg = malloc(T * TEST_B * sizeof *tg),
           *mask = malloc(T * TEST_B * sizeof *mask), *y = malloc(T * TEST_B * n_out * sizeof *y);
    if (!x || !tg || !mask || !y)
        return 1;
    printf("recipes at commit %s: task 2af (T = %zu, CE), N = %d, batch %d, %d iterations, "
           "gain %.1f, %d seeds, no clipping, state bound %g\n"
           "cell: median final/initial test loss (< 1 learned), div: a seed diverged\n",
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
                recipe r = {rules[ru], ok, a ? RP_ACT_TANH : RP_ACT_RELU, 0, 0, 0.0, GAIN};
                char label[64];
                snprintf(label, sizeof label, "%s %s", rule_name(rules[ru]), a ? "tanh" : "relu");
                row(label, &r, lrs, task, n_in, n_out, T, loss, x, tg, mask, y);
            }
    }

    header("Dale, e-prop, Adam", lr_adam);
    static const struct {
        const char *label;
        recipe r;
    } dale[] = {
        {"relu g 1.5", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 0, 0.0, 1.5}},
        {"relu g 1.5 + structure", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 0.0, 1.5}},
        {"relu g 1.5 + structure, clip 1", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 1.0, 1.5}},
        {"relu g 1.0 + structure", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_RELU, 1, 1, 0.0, 1.0}},
        {"tanh g 1.5 + structure", {RP_RULE_EPROP, RP_OPTIM_ADAM, RP_ACT_TANH, 1, 1, 0.0, 1.5}},
    };
    for (size_t i = 0; i < sizeof dale / sizeof dale[0]; i++)
        row(dale[i].label, &dale[i].r, lr_adam, task, n_in, n_out, T, loss, x, tg, mask, y);

    printf("\n%.0f s\n", bu_now() - t0);
    free(x);
    free(tg);
    free(mask);
    free(y);
    rp_task_free(task);
    return 0;
}
