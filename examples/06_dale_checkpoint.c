/* 06_dale_checkpoint — the calls the first five examples leave out, each
   checked (the program exits non-zero if one does not hold):

   1. Dale's law: W from RP_INIT_DALE with 80 % excitatory columns
      (rp_init_set_dale_fraction), every column one sign (MODEL.md §2).
   2. rp_optim_set_structure keeps it so: after training, no weight has
      changed sign (an entry may reach 0, never cross it).
   3. e-prop with random feedback (rp_rule_set_feedback, MODEL.md §4.4) on the
      perceptual decision task, with the divergence guard on
      (rp_net_set_state_bound; docs/RECIPES.md has the learning rates).
   4. rp_net_save / rp_net_load: the reloaded net has the same parameters and
      gives the same outputs, bit for bit.
   5. rp_checkpoint_save / rp_checkpoint_load mid-training (net, optimizer and
      rule with its feedback matrix): the resumed run's losses equal those of
      the run that went on, bit for bit.
   6. A Lyapunov spectrum with k = 4 driven by the task's inputs
      (rp_lyap_run with x): four finite exponents, in descending order.
   7. The guard at work: the same net with W at gain 4 and no leak grows
      without limit; rp_net_run stops with RP_ERR_DIVERGED instead of
      returning RP_OK on a state of 1e300.

   Files go to a fresh directory under $TMPDIR (or /tmp), removed at the end.
   Build: cc 06_dale_checkpoint.c $(pkg-config --cflags --libs rnnplast) */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

enum { N = 48, B = 16, ITERS = 120, RESUME_AT = 80, K_LYAP = 4 };

#define FAIL(...)                     \
    do {                              \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr);          \
        return EXIT_FAILURE;          \
    } while (0)

static double *xalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

/* One training iteration: fresh trials from the iteration's seed, the
   rule's gradient, one optimizer step.  Returns the training loss. */
static double train_step(rp_task *task, rp_net *net, rp_rule *rule, rp_optim *opt, rp_grad *g,
                         int it, size_t T, double *x, double *tg, double *mask)
{
    double loss;
    RP_CHECK(rp_task_sample(task, B, (uint64_t)it, x, tg, mask), rp_task_last_error(task));
    RP_CHECK(rp_grad_zero(g), rp_grad_last_error(g));
    RP_CHECK(rp_rule_trial(rule, net, T, x, tg, mask, g, &loss), rp_rule_last_error(rule));
    RP_CHECK(rp_optim_step(opt, net, g), rp_optim_last_error(opt));
    return loss;
}

int main(void)
{
    /* the task fixes the input and output sizes and the trial length */
    rp_task *task = NULL;
    size_t n_in, n_out, T;
    rp_loss loss_kind;
    RP_CHECK(rp_task_create(&task, RP_TASK_2AF, NULL, NULL, 0), "see rp_task_config_check()");
    RP_CHECK(rp_task_get_dims(task, &n_in, &n_out, &T, &loss_kind), rp_task_last_error(task));
    double *x = xalloc(T * B * n_in), *tg = xalloc(T * B), *mask = xalloc(T * B);

    rp_net_config cfg; /* voltage form, relu, alpha 0.9 */

    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = n_in, cfg.n_rec = N, cfg.n_out = n_out, cfg.batch = B;
    rp_net *net = NULL;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "see rp_net_config_check()");
    /* 3. the guard: a state entry beyond 1e4 stops any run with a status */
    RP_CHECK(rp_net_set_state_bound(net, 1e4), rp_net_last_error(net));

    /* 1. Dale's law for W, Gaussian U and V */
    rp_init *init = NULL;
    RP_CHECK(rp_init_create(&init, RP_INIT_DALE, NULL, 0), "");
    RP_CHECK(rp_init_set_dale_fraction(init, 0.8), rp_init_last_error(init));
    RP_CHECK(rp_init_set_gain(init, 1.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 1), rp_init_last_error(init));
    rp_init_free(init);
    RP_CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), "");
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_U, 2), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_V, 3), rp_init_last_error(init));
    static double W0[N * N], W1[N * N];
    RP_CHECK(rp_net_get_param(net, RP_PARAM_W, W0, N * N), rp_net_last_error(net));
    size_t n_exc = 0;
    for (size_t j = 0; j < N; j++) { /* column j: the sign of presynaptic unit j */
        int pos = 0, neg = 0;
        for (size_t i = 0; i < N; i++)
            pos |= W0[i * N + j] > 0.0, neg |= W0[i * N + j] < 0.0;
        if (pos && neg)
            FAIL("column %zu of the Dale matrix has both signs", j);
        n_exc += (size_t)pos;
    }
    printf("Dale W: %zu excitatory and %zu inhibitory units\n", n_exc, N - n_exc);

    /* 2-3. e-prop with random feedback; Adam that keeps W's signs */
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    RP_CHECK(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), "");
    RP_CHECK(rp_rule_set_loss(rule, loss_kind), rp_rule_last_error(rule));
    RP_CHECK(rp_rule_set_feedback(rule, RP_FEEDBACK_RANDOM, 4), rp_rule_last_error(rule));
    RP_CHECK(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), "");
    RP_CHECK(rp_optim_set_lr(opt, 3e-3), rp_optim_last_error(opt));
    RP_CHECK(rp_optim_set_structure(opt, net, RP_PARAM_W, 0, 1), rp_optim_last_error(opt));
    RP_CHECK(rp_grad_create(&g, net, NULL, 0), "");

    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/rp06XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        FAIL("cannot create a directory under %s", tmp && *tmp ? tmp : "/tmp");
    char ckpt[4200], model[4200];
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    snprintf(model, sizeof model, "%s/net.rpnet", dir);

    static double losses[ITERS];
    char msg[256];
    for (int it = 0; it < ITERS; it++) {
        if (it == RESUME_AT) /* 5. everything a resume needs, at iteration it */
            RP_CHECK(
                rp_checkpoint_save(net, opt, rule, ckpt, (uint64_t)it, NULL, 0, msg, sizeof msg),
                msg);
        losses[it] = train_step(task, net, rule, opt, g, it, T, x, tg, mask);
        if (it % 20 == 0 || it == ITERS - 1)
            printf("iteration %3d  training loss %.4f\n", it, losses[it]);
    }
    double early = 0.0, late = 0.0;
    for (int i = 0; i < 20; i++)
        early += losses[i], late += losses[ITERS - 20 + i];
    if (!(late < 0.8 * early))
        FAIL(
            "e-prop did not learn: mean loss %.4f over the first 20 iterations, %.4f over the last",
            early / 20, late / 20);

    /* 2. no weight crossed zero */
    RP_CHECK(rp_net_get_param(net, RP_PARAM_W, W1, N * N), rp_net_last_error(net));
    size_t moved = 0;
    for (size_t i = 0; i < N * N; i++) {
        if (W0[i] * W1[i] < 0.0)
            FAIL("W[%zu] changed sign: %g -> %g", i, W0[i], W1[i]);
        moved += W0[i] != W1[i];
    }
    printf("after training: %zu of %d weights changed, none changed sign\n", moved, N * N);
    if (moved == 0)
        FAIL("training changed no recurrent weight");

    /* 4. save, reload, compare parameters and outputs */
    RP_CHECK(rp_net_save(net, model), rp_net_last_error(net));
    rp_net *back = NULL;
    RP_CHECK(rp_net_load(&back, model, msg, sizeof msg), msg);
    RP_CHECK(rp_net_set_state_bound(back, 1e4), rp_net_last_error(back)); /* not saved */
    double *y0 = xalloc(T * B * n_out), *y1 = xalloc(T * B * n_out);
    for (int p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        RP_CHECK(rp_net_get_param_len(net, (rp_param)p, &len), "");
        double *a = xalloc(len), *b = xalloc(len);
        RP_CHECK(rp_net_get_param(net, (rp_param)p, a, len), "");
        RP_CHECK(rp_net_get_param(back, (rp_param)p, b, len), "");
        int same = memcmp(a, b, len * sizeof *a) == 0;
        free(a);
        free(b);
        if (!same)
            FAIL("parameter %d differs after rp_net_load", p);
    }
    RP_CHECK(rp_task_sample(task, B, 777, x, tg, mask), rp_task_last_error(task));
    RP_CHECK(rp_net_reset(net), rp_net_last_error(net));
    RP_CHECK(rp_net_run(net, T, x, y0), rp_net_last_error(net));
    RP_CHECK(rp_net_run(back, T, x, y1), rp_net_last_error(back));
    if (memcmp(y0, y1, T * B * n_out * sizeof *y0) != 0)
        FAIL("the reloaded net's outputs differ");
    printf("saved and reloaded: parameters and outputs identical\n");
    rp_net_free(back);

    /* 5. resume from the checkpoint: the same losses, bit for bit */
    rp_net *rnet = NULL;
    rp_optim *ropt = NULL;
    rp_rule *rrule = NULL;
    uint64_t at = 0;
    RP_CHECK(rp_checkpoint_load(&rnet, &ropt, &rrule, ckpt, &at, NULL, 0, NULL, msg, sizeof msg),
             msg);
    RP_CHECK(rp_net_set_state_bound(rnet, 1e4), rp_net_last_error(rnet)); /* not saved */
    for (int it = (int)at; it < ITERS; it++) {
        double l = train_step(task, rnet, rrule, ropt, g, it, T, x, tg, mask);
        if (memcmp(&l, &losses[it], sizeof l) != 0)
            FAIL("resumed iteration %d: loss %.17g, the uninterrupted run had %.17g", it, l,
                 losses[it]);
    }
    printf("resumed at iteration %llu: iterations %llu..%d reproduce the losses bit for bit\n",
           (unsigned long long)at, (unsigned long long)at, ITERS - 1);
    rp_net_free(rnet);
    rp_optim_free(ropt);
    rp_rule_free(rrule);

    /* 6. k = 4 exponents along one input-driven trajectory: 40 trials of the
       task back to back (rp_lyap_run continues its trajectory across calls) */
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = 2 * T;
    rp_lyap *ly = NULL;
    double lam[K_LYAP];
    RP_CHECK(rp_lyap_create(&ly, net, K_LYAP, &lc, NULL, 0), "see rp_lyap_config_check()");
    for (int trial = 0; trial < 40; trial++) {
        RP_CHECK(rp_task_sample(task, 1, 5000u + (uint64_t)trial, x, tg, mask),
                 rp_task_last_error(task));
        RP_CHECK(rp_lyap_run(ly, net, T, x), rp_lyap_last_error(ly));
    }
    RP_CHECK(rp_lyap_get_spectrum(ly, lam, K_LYAP), rp_lyap_last_error(ly));
    rp_lyap_free(ly);
    printf("Lyapunov spectrum, input-driven (per step):");
    for (int i = 0; i < K_LYAP; i++) {
        printf(" %.4f", lam[i]);
        if (!isfinite(lam[i]) || (i > 0 && lam[i] > lam[i - 1]))
            FAIL("\nthe spectrum is not finite and descending");
    }
    printf("\n");

    /* 7. the guard: gain 4, no leak, positive drive: relu activity explodes */
    RP_CHECK(rp_init_set_gain(init, 4.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 9), rp_init_last_error(init));
    RP_CHECK(rp_net_set_alpha(net, 0.0), rp_net_last_error(net));
    RP_CHECK(rp_net_reset(net), rp_net_last_error(net));
    for (size_t i = 0; i < T * B * n_in; i++)
        x[i] = 1.0;
    rp_status st = rp_net_run(net, T, x, y0);
    printf("a relu net at gain 4: rp_net_run -> %s\n  %s\n", rp_status_string(st),
           rp_net_last_error(net));
    if (st != RP_ERR_DIVERGED)
        FAIL("the guard did not stop the run");

    unlink(ckpt);
    unlink(model);
    rmdir(dir);
    free(x), free(tg), free(mask), free(y0), free(y1);
    rp_init_free(init);
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_net_free(net);
    rp_task_free(task);
    return EXIT_SUCCESS;
}
