/* Task generators (MODEL.md §8): shapes, determinism, the documented
   statistics, scoring against hand-computed values, bad arguments. */
#include "testutil.h"

typedef struct {
    rp_task *t;
    size_t n_in, n_out, T, B;
    rp_loss loss;
    double *x, *tg, *m;
} trials;

static void draw(trials *s, rp_task_kind kind, const rp_task_config *cfg, size_t B, uint64_t seed)
{
    rp_status st = rp_task_create(&s->t, kind, cfg, NULL, 0);
    ck_assert_msg(st == RP_OK, "create %d: %s", (int)kind, rp_status_string(st));
    RP_CK(rp_task_get_dims(s->t, &s->n_in, &s->n_out, &s->T, &s->loss), s->t, rp_task_last_error);
    s->B = B;
    size_t ny = s->loss == RP_LOSS_CE ? 1 : s->n_out;
    s->x = calloc(s->T * B * s->n_in + 1, sizeof(double));
    s->tg = calloc(s->T * B * ny, sizeof(double));
    s->m = calloc(s->T * B, sizeof(double));
    RP_CK(rp_task_sample(s->t, B, seed, s->x, s->tg, s->m), s->t, rp_task_last_error);
}

static void drop(trials *s)
{
    rp_task_free(s->t);
    free(s->x);
    free(s->tg);
    free(s->m);
}

#define X(s, t, b, i) ((s)->x[((t) * (s)->B + (b)) * (s)->n_in + (i)])
#define TG(s, t, b) ((s)->tg[(t) * (s)->B + (b)])
#define M(s, t, b) ((s)->m[(t) * (s)->B + (b)])

/* Documented dimensions of each kind with its default configuration. */
START_TEST(dims_per_kind)
{
    static const size_t n_in[] = {1, 1, 1, 1, 3, 3, 7};
    static const size_t n_out[] = {1, 1, 1, 1, 3, 3, 3};
    static const size_t T[] = {60, 50, 50, 50, 16, 25, 16};
    for (int k = RP_TASK_SINES; k <= RP_TASK_CXT; k++) {
        trials s;
        draw(&s, (rp_task_kind)k, NULL, 2, 7);
        ck_assert_uint_eq(s.n_in, n_in[k]);
        ck_assert_uint_eq(s.n_out, n_out[k]);
        ck_assert_uint_eq(s.T, T[k]);
        ck_assert_int_eq(s.loss, k >= RP_TASK_2AF ? RP_LOSS_CE : RP_LOSS_MSE);
        ck_assert_str_ne(rp_task_kind_name((rp_task_kind)k), "");
        drop(&s);
    }
    ck_assert_ptr_null(rp_task_kind_name((rp_task_kind)7));
}
END_TEST

/* Same seed: bit-identical; other seed: different; trial b independent of B. */
START_TEST(determinism)
{
    int k = _i;
    trials a, b, c, d;
    draw(&a, (rp_task_kind)k, NULL, 4, 11);
    draw(&b, (rp_task_kind)k, NULL, 4, 11);
    draw(&c, (rp_task_kind)k, NULL, 4, 12);
    draw(&d, (rp_task_kind)k, NULL, 1, 11);
    size_t nx = a.T * 4 * a.n_in, ny = a.T * 4 * (a.loss == RP_LOSS_CE ? 1 : a.n_out);
    ck_assert_int_eq(memcmp(a.x, b.x, nx * sizeof(double)), 0);
    ck_assert_int_eq(memcmp(a.tg, b.tg, ny * sizeof(double)), 0);
    ck_assert_int_eq(memcmp(a.m, b.m, a.T * 4 * sizeof(double)), 0);
    if (k != RP_TASK_SINES) /* sines is the same fixed pattern in every trial */
        ck_assert_int_ne(memcmp(a.x, c.x, nx * sizeof(double)), 0);
    for (size_t t = 0; t < a.T; t++) {
        for (size_t i = 0; i < a.n_in; i++)
            ck_assert_double_eq(X(&a, t, 0, i), X(&d, t, 0, i));
        ck_assert_double_eq(TG(&a, t, 0), TG(&d, t, 0));
    }
    drop(&a);
    drop(&b);
    drop(&c);
    drop(&d);
}
END_TEST

/* copy, delayed_xor, add: targets from the input stream by the formulas of
   MODEL.md §8, written out again here; masks zero before the first lag. */
START_TEST(stream_tasks_formulas)
{
    trials s;
    double ones = 0;
    draw(&s, RP_TASK_COPY, NULL, 3, 5);
    for (size_t b = 0; b < 3; b++)
        for (size_t t = 0; t < s.T; t++) {
            ck_assert(X(&s, t, b, 0) == 0.0 || X(&s, t, b, 0) == 1.0);
            ones += X(&s, t, b, 0);
            ck_assert_double_eq(M(&s, t, b), t < 5 ? 0.0 : 1.0);
            if (t >= 5)
                ck_assert_double_eq(TG(&s, t, b), X(&s, t - 5, b, 0));
        }
    /* 150 fair bits: mean 75, s.d. 6.1; 5 s.d. */
    ck_assert(fabs(ones - 75.0) < 31.0);
    drop(&s);

    draw(&s, RP_TASK_DELAYED_XOR, NULL, 3, 5);
    for (size_t b = 0; b < 3; b++)
        for (size_t t = 0; t < s.T; t++) {
            ck_assert_double_eq(M(&s, t, b), t < 6 ? 0.0 : 1.0);
            if (t >= 6) {
                int a1 = X(&s, t - 3, b, 0) > 0.5, a2 = X(&s, t - 6, b, 0) > 0.5;
                ck_assert_double_eq(TG(&s, t, b), (double)(a1 ^ a2));
            }
        }
    drop(&s);

    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_ADD);
    c.t1 = 2;
    c.t2 = 7;
    c.T = 20;
    draw(&s, RP_TASK_ADD, &c, 2, 5);
    for (size_t b = 0; b < 2; b++)
        for (size_t t = 0; t < s.T; t++) {
            ck_assert_double_eq(M(&s, t, b), t < 7 ? 0.0 : 1.0);
            if (t >= 7)
                ck_assert_double_eq_tol(TG(&s, t, b),
                                        0.5 + 0.5 * X(&s, t - 2, b, 0) - 0.25 * X(&s, t - 7, b, 0),
                                        1e-15);
        }
    drop(&s);
}
END_TEST

/* sines: a cue at step 0; the target is a fixed pattern of amplitude at most 1
   and mean over whole periods 0 (P_m = T/(m+1) divides T). */
START_TEST(sines_pattern)
{
    trials s;
    draw(&s, RP_TASK_SINES, NULL, 2, 3);
    double mean = 0.0, var = 0.0;
    for (size_t t = 0; t < s.T; t++) {
        ck_assert_double_eq(X(&s, t, 0, 0), t == 0 ? 1.0 : 0.0);
        ck_assert_double_eq(TG(&s, t, 0), TG(&s, t, 1));
        ck_assert(fabs(TG(&s, t, 0)) <= 1.0);
        mean += TG(&s, t, 0) / (double)s.T;
        var += TG(&s, t, 0) * TG(&s, t, 0) / (double)s.T;
    }
    ck_assert(fabs(mean) < 1e-12); /* exact cancellation up to rounding */
    ck_assert(var > 0.01);         /* not a flat line */
    drop(&s);
}
END_TEST

/* 2af: with sigma = 0 the evidence difference is exactly +-c, c from the
   coherence set; class balance and coherence frequencies; fixation cue and
   mask by period; an optional delay shifts the decision. */
START_TEST(two_af_statistics)
{
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.sigma = 0.0;
    c.delay = 4;
    c.fix_weight = 0.25;
    trials s;
    const size_t B = 2000;
    draw(&s, RP_TASK_2AF, &c, B, 99);
    ck_assert_uint_eq(s.T, 3 + 10 + 4 + 3);
    size_t n1 = 0, coh_count[5] = {0};
    for (size_t b = 0; b < B; b++) {
        double k = TG(&s, s.T - 1, b);
        ck_assert(k == 1.0 || k == 2.0);
        n1 += k == 1.0;
        double diff = X(&s, 5, b, 1) - X(&s, 5, b, 2);
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (fabs(fabs(diff) - c.coherences[i]) < 1e-12)
                found = i;
        ck_assert_int_ge(found, 0);
        coh_count[found]++;
        if (found > 0) /* the evidence favours the right choice */
            ck_assert(k == 1.0 ? diff > 0 : diff < 0);
        for (size_t t = 0; t < s.T; t++) {
            int stim = t >= 3 && t < 13, dec = t >= 17;
            ck_assert_double_eq(X(&s, t, b, 0), dec ? 0.0 : 1.0);
            ck_assert_double_eq(M(&s, t, b), dec ? 1.0 : 0.25);
            ck_assert_double_eq(TG(&s, t, b), dec ? k : 0.0);
            if (!stim) {
                ck_assert_double_eq(X(&s, t, b, 1), 0.0);
                ck_assert_double_eq(X(&s, t, b, 2), 0.0);
            } else {
                ck_assert_double_eq_tol(X(&s, t, b, 1) + X(&s, t, b, 2), 1.0, 1e-15);
            }
        }
    }
    /* Binomial(2000, 1/2): s.d. 22.4; 5 s.d.  Each coherence 1/5: s.d. 17.9. */
    ck_assert_msg(fabs((double)n1 - 1000.0) < 112.0, "n1 = %zu", n1);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fabs((double)coh_count[i] - 400.0) < 90.0, "coh %d: %zu", i, coh_count[i]);
    drop(&s);

    /* Noise: the per-step sample s.d. of channel 1 around its mean equals sigma. */
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.sigma = 0.3;
    c.coherences[0] = 0.2;
    c.n_coherences = 1;
    draw(&s, RP_TASK_2AF, &c, 500, 4);
    double ss = 0.0;
    size_t n = 0;
    for (size_t b = 0; b < 500; b++)
        for (size_t t = 3; t < 13; t++) {
            double mu = TG(&s, s.T - 1, b) == 1.0 ? 0.6 : 0.4;
            double d = X(&s, t, b, 1) - mu;
            ss += d * d;
            n++;
        }
    /* 5000 samples: relative s.e. of the variance ~ sqrt(2/5000) = 2 %; allow 10 %. */
    ck_assert_double_eq_tol(ss / (double)n, 0.09, 0.009);
    drop(&s);
}
END_TEST

/* dms: sample and test one-hot (sigma = 0) in their periods; answer 1 iff they
   match; match rate 1/2. */
START_TEST(dms_statistics)
{
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_DMS);
    c.sigma = 0.0;
    trials s;
    const size_t B = 1000;
    draw(&s, RP_TASK_DMS, &c, B, 8);
    size_t nmatch = 0;
    for (size_t b = 0; b < B; b++) {
        int sample = X(&s, 2, b, 2) == 1.0, test = X(&s, 2 + 5 + 10, b, 2) == 1.0;
        ck_assert_double_eq(X(&s, 2, b, 1) + X(&s, 2, b, 2), 1.0);
        ck_assert_double_eq(X(&s, 17, b, 1) + X(&s, 17, b, 2), 1.0);
        for (size_t t = 7; t < 17; t++) /* the delay is silent */
            ck_assert_double_eq(X(&s, t, b, 1) + X(&s, t, b, 2), 0.0);
        double k = TG(&s, s.T - 1, b);
        ck_assert_double_eq(k, sample == test ? 1.0 : 2.0);
        nmatch += k == 1.0;
    }
    /* Binomial(1000, 1/2): s.d. 15.8; 5 s.d. */
    ck_assert(fabs((double)nmatch - 500.0) < 80.0);
    drop(&s);
}
END_TEST

/* cxt: the answer is the choice of the cued modality; the context cue is on
   until the decision; both contexts and both answers about equally often. */
START_TEST(cxt_statistics)
{
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_CXT);
    c.sigma = 0.0;
    trials s;
    const size_t B = 1000;
    draw(&s, RP_TASK_CXT, &c, B, 21);
    size_t nctx2 = 0, nk1 = 0, agree = 0;
    for (size_t b = 0; b < B; b++) {
        int ctx2 = X(&s, 0, b, 6) == 1.0;
        ck_assert_double_eq(X(&s, 0, b, 5) + X(&s, 0, b, 6), 1.0);
        ck_assert_double_eq(X(&s, s.T - 1, b, 5) + X(&s, s.T - 1, b, 6), 0.0);
        int k1 = X(&s, 5, b, 1) > X(&s, 5, b, 2) ? 1 : 2;
        int k2 = X(&s, 5, b, 3) > X(&s, 5, b, 4) ? 1 : 2;
        double k = TG(&s, s.T - 1, b);
        ck_assert_double_eq(k, (double)(ctx2 ? k2 : k1));
        nctx2 += ctx2;
        nk1 += k == 1.0;
        agree += k1 == k2;
    }
    /* Binomial(1000, 1/2), 5 s.d. = 80 */
    ck_assert(fabs((double)nctx2 - 500.0) < 80.0);
    ck_assert(fabs((double)nk1 - 500.0) < 80.0);
    ck_assert(fabs((double)agree - 500.0) < 80.0); /* modalities independent */
    drop(&s);
}
END_TEST

/* Scores against values computed by hand. */
START_TEST(score_hand_computed)
{
    /* CE: 2af with periods 1, 1, 0, 1 (T = 3), B = 2.  Targets: step 0-1 class
       0, step 2 the choice.  Build targets by hand, masks all 1. */
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.fixation = 1;
    c.stimulus = 1;
    c.decision = 1;
    rp_task *t;
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_2AF, &c, NULL, 0), RP_OK);
    double tg[6] = {0, 0, 0, 0, 1, 2};
    double y[18] = {
        0, 0, 0, /* t0 b0: -log(1/3) */
        1, 0, 0, /* t0 b1: -log(e/(e+2)) */
        0, 0, 0, /* t1 b0 */
        0, 0, 0, /* t1 b1 */
        0, 2, 0, /* t2 b0 target 1: -log(e^2/(e^2+2)), argmax right */
        0, 3, 1, /* t2 b1 target 2: -log(e/(1+e^3+e)), argmax wrong */
    };
    double l3 = log(3.0);
    double expect = (l3 + -log(exp(1) / (exp(1) + 2)) + l3 + l3 - log(exp(2) / (exp(2) + 2)) -
                     log(exp(1) / (1 + exp(3) + exp(1)))) /
                    6.0;
    double loss, acc;
    RP_CK(rp_task_score(t, 2, y, tg, NULL, &loss, &acc), t, rp_task_last_error);
    ck_assert_double_eq_tol(loss, expect, 1e-14);
    ck_assert_double_eq(acc, 0.5); /* decision steps only: one of two */
    /* mask weights the loss and selects the steps counted for accuracy */
    double m[6] = {1, 1, 1, 1, 1, 0};
    RP_CK(rp_task_score(t, 2, y, tg, m, &loss, &acc), t, rp_task_last_error);
    ck_assert_double_eq_tol(
        loss, (3 * l3 - log(exp(1) / (exp(1) + 2)) - log(exp(2) / (exp(2) + 2))) / 6.0, 1e-14);
    ck_assert_double_eq(acc, 1.0);
    rp_task_free(t);

    /* MSE: copy with T = 3, d = 1, B = 1.  mask (0, 1, 1). */
    rp_task_config_init(&c, sizeof c, RP_TASK_COPY);
    c.T = 3;
    c.delay = 1;
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_COPY, &c, NULL, 0), RP_OK);
    double tg2[3] = {0, 1, 0}, y2[3] = {5, 0.8, 0.6}, m2[3] = {0, 1, 1};
    RP_CK(rp_task_score(t, 1, y2, tg2, m2, &loss, &acc), t, rp_task_last_error);
    ck_assert_double_eq_tol(loss, (0.5 * 0.04 + 0.5 * 0.36) / 3.0, 1e-15);
    ck_assert_double_eq(acc, 0.5);
    rp_task_free(t);

    /* sines/add have no accuracy. */
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_ADD, NULL, NULL, 0), RP_OK);
    double *yz = calloc(50, sizeof(double));
    RP_CK(rp_task_score(t, 1, yz, yz, NULL, &loss, &acc), t, rp_task_last_error);
    ck_assert(isnan(acc));
    ck_assert_double_eq(loss, 0.0);
    free(yz);
    rp_task_free(t);
}
END_TEST

/* rp_task_score_choices against hand-computed trials and a naive oracle. */
static void naive_choices(size_t T, size_t B, size_t no, const double *y, const double *tg,
                          const double *m, double *resp, double *acc)
{
    size_t n = 0, r = 0, c = 0;
    for (size_t b = 0; b < B; b++) {
        double sum[8] = {0};
        int any = 0;
        size_t answer = 0;
        for (size_t t = 0; t < T; t++) {
            size_t i = t * B + b;
            if ((m && m[i] == 0.0) || tg[i] == 0.0)
                continue;
            if (!any)
                answer = (size_t)tg[i];
            any = 1;
            for (size_t o = 0; o < no; o++)
                sum[o] += y[i * no + o];
        }
        if (!any)
            continue;
        size_t best = 0;
        for (size_t o = 1; o < no; o++)
            if (sum[o] > sum[best])
                best = o;
        n++;
        r += best != 0;
        c += best == answer;
    }
    *resp = n ? (double)r / (double)n : NAN;
    *acc = n ? (double)c / (double)n : NAN;
}

START_TEST(score_choices)
{
    /* 2af, periods 1, 1, 0, 2 (T = 4), B = 4; decision steps 2 and 3. */
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.fixation = 1;
    c.stimulus = 1;
    c.delay = 0;
    c.decision = 2;
    rp_task *t;
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_2AF, &c, NULL, 0), RP_OK);
    size_t T, no;
    ck_assert_int_eq(rp_task_get_dims(t, NULL, &no, &T, NULL), RP_OK);
    ck_assert_uint_eq(T, 4);
    ck_assert_uint_eq(no, 3);
    double tg[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 2, 1, 2, 1, 2};
    double y[48] = {0};
    /* trial 0 (answer 1): step 2 says 2 by a little, step 3 says 1 by a lot
       -> choice 1, correct, though per-step argmax is right only half the time */
    y[(2 * 4 + 0) * 3 + 2] = 0.1;
    y[(3 * 4 + 0) * 3 + 1] = 2.0;
    /* trial 1 (answer 2): sums 0 for every class -> a tie with fixate: no response */
    /* trial 2 (answer 1): chooses 2 -> responded, wrong */
    y[(2 * 4 + 2) * 3 + 2] = 1.0;
    /* trial 3 (answer 2): fixates (class 0 largest) -> no response;
       large values before the decision do not count */
    y[(3 * 4 + 3) * 3 + 0] = 1.0;
    y[(0 * 4 + 3) * 3 + 2] = 9.0;
    double resp = -1, acc = -1;
    RP_CK(rp_task_score_choices(t, 4, y, tg, NULL, &resp, &acc), t, rp_task_last_error);
    ck_assert_double_eq(resp, 0.5); /* trials 0 and 2 */
    ck_assert_double_eq(acc, 0.25); /* trial 0 of 4 */
    /* the mask drops trial 0's step 3: its choice becomes 2 (wrong) */
    double m[16];
    for (int i = 0; i < 16; i++)
        m[i] = 1.0;
    m[3 * 4 + 0] = 0.0;
    RP_CK(rp_task_score_choices(t, 4, y, tg, m, &resp, &acc), t, rp_task_last_error);
    ck_assert_double_eq(resp, 0.5);
    ck_assert_double_eq(acc, 0.0);
    rp_task_free(t);

    /* random outputs on sampled 2af and dms trials, masks from the task: the
       naive oracle above */
    static const rp_task_kind kinds[] = {RP_TASK_2AF, RP_TASK_DMS, RP_TASK_CXT};
    for (size_t k = 0; k < 3; k++) {
        ck_assert_int_eq(rp_task_create(&t, kinds[k], NULL, NULL, 0), RP_OK);
        size_t ni, B = 7;
        rp_loss lk;
        ck_assert_int_eq(rp_task_get_dims(t, &ni, &no, &T, &lk), RP_OK);
        ck_assert_int_eq(lk, RP_LOSS_CE);
        double *x = calloc(T * B * (ni ? ni : 1), sizeof *x), *g = calloc(T * B, sizeof *g),
               *mk = calloc(T * B, sizeof *mk), *yy = calloc(T * B * no, sizeof *yy);
        ck_assert(x && g && mk && yy);
        RP_CK(rp_task_sample(t, B, 11 + k, x, g, mk), t, rp_task_last_error);
        uint64_t st = 5 + k;
        for (size_t i = 0; i < T * B * no; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            yy[i] = (double)(st >> 11) * 0x1.0p-53 - 0.5;
        }
        double want_r, want_a;
        naive_choices(T, B, no, yy, g, mk, &want_r, &want_a);
        RP_CK(rp_task_score_choices(t, B, yy, g, mk, &resp, &acc), t, rp_task_last_error);
        ck_assert_double_eq(resp, want_r);
        ck_assert_double_eq(acc, want_a);
        ck_assert(want_r > 0.0 && want_a > 0.0 && want_a < 1.0); /* not a degenerate case */
        /* errors write nothing: a NaN output; an MSE task */
        yy[no] = NAN;
        resp = acc = 7.0;
        ck_assert_int_eq(rp_task_score_choices(t, B, yy, g, mk, &resp, &acc), RP_ERR_NONFINITE);
        ck_assert(resp == 7.0 && acc == 7.0);
        free(x);
        free(g);
        free(mk);
        free(yy);
        rp_task_free(t);
    }
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_COPY, NULL, NULL, 0), RP_OK);
    double z[1] = {0};
    ck_assert_int_eq(rp_task_score_choices(t, 1, z, z, NULL, &resp, &acc), RP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(rp_task_last_error(t), "copy"));
    ck_assert_int_eq(rp_task_score_choices(NULL, 1, z, z, NULL, &resp, &acc), RP_ERR_INVALID_ARG);
    rp_task_free(t);
}
END_TEST

START_TEST(bad_args)
{
    rp_task *t = (rp_task *)1;
    char msg[256];
    ck_assert_int_eq(rp_task_create(&t, (rp_task_kind)9, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(rp_task_create(NULL, RP_TASK_COPY, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    rp_task_config c;
    rp_task_config_init(&c, sizeof c, RP_TASK_COPY);
    c.delay = 50; /* >= T */
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_COPY, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_task_config_check(RP_TASK_COPY, &c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "delay"));
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.T = 5; /* not the sum of the periods */
    ck_assert_int_eq(rp_task_config_check(RP_TASK_2AF, &c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(msg, "T"));
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.coherences[1] = 1.5;
    ck_assert_int_eq(rp_task_config_check(RP_TASK_2AF, &c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.n_coherences = 0;
    ck_assert_int_eq(rp_task_config_check(RP_TASK_2AF, &c, NULL, 0), RP_ERR_INVALID_ARG);
    rp_task_config_init(&c, sizeof c, RP_TASK_2AF);
    c.sigma = -1;
    ck_assert_int_eq(rp_task_config_check(RP_TASK_2AF, &c, NULL, 0), RP_ERR_INVALID_ARG);
    c.sigma = 0.1;
    c.struct_size = 4;
    ck_assert_int_eq(rp_task_config_check(RP_TASK_2AF, &c, NULL, 0), RP_ERR_INVALID_ARG);
    rp_task_config_init(&c, sizeof c, RP_TASK_DELAYED_XOR);
    c.delay = 25; /* 2d must stay < T = 50 */
    ck_assert_int_eq(rp_task_config_check(RP_TASK_DELAYED_XOR, &c, NULL, 0), RP_ERR_INVALID_ARG);

    ck_assert_int_eq(rp_task_create(&t, RP_TASK_2AF, NULL, NULL, 0), RP_OK);
    double x[3 * 16], tg[16], m[16], y[3 * 16];
    for (int i = 0; i < 16; i++)
        m[i] = -7.0;
    ck_assert_int_eq(rp_task_sample(t, 0, 1, x, tg, m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_task_last_error(t), "B"));
    ck_assert_int_eq(rp_task_sample(t, 1, 1, NULL, tg, m), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_task_sample(t, 1, 1, x, tg, NULL), RP_ERR_INVALID_ARG);
    ck_assert_double_eq(m[0], -7.0); /* nothing written on failure */
    ck_assert_int_eq(rp_task_sample(NULL, 1, 1, x, tg, m), RP_ERR_INVALID_ARG);
    RP_CK(rp_task_sample(t, 1, 1, x, tg, m), t, rp_task_last_error);
    memset(y, 0, sizeof y);
    double loss = -1;
    tg[3] = 3.0; /* class out of range */
    ck_assert_int_eq(rp_task_score(t, 1, y, tg, m, &loss, NULL), RP_ERR_INVALID_ARG);
    ck_assert_double_eq(loss, -1);
    tg[3] = 0.0;
    y[5] = NAN;
    ck_assert_int_eq(rp_task_score(t, 1, y, tg, m, &loss, NULL), RP_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(rp_task_last_error(t), "step 1"));
    ck_assert_int_eq(rp_task_score(t, 1, NULL, tg, m, &loss, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_task_get_dims(NULL, NULL, NULL, NULL, NULL), RP_ERR_INVALID_ARG);
    rp_task_free(t);
    rp_task_free(NULL);
}
END_TEST

/* rp_task_score checks its inputs as rp_rule_trial does: an MSE target that
   is not finite, or a mask outside [0, 1] (NaN included), used to give a NaN
   loss with RP_OK.  Failing calls leave *loss and *accuracy as they were. */
START_TEST(task_score_checks_target_and_mask)
{
    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_SINES, NULL, NULL, 0), RP_OK);
    size_t n_in = 0, n_out = 0, T = 0;
    rp_loss kind;
    RP_CK(rp_task_get_dims(task, &n_in, &n_out, &T, &kind), task, rp_task_last_error);
    ck_assert_int_eq(kind, RP_LOSS_MSE);
    const size_t B = 2, ny = T * B * n_out;
    double *x = calloc(T * B * n_in, sizeof *x), *tg = calloc(ny, sizeof *tg);
    double *m = calloc(T * B, sizeof *m), *y = calloc(ny, sizeof *y);
    ck_assert(x && tg && m && y);
    RP_CK(rp_task_sample(task, B, 7, x, tg, m), task, rp_task_last_error);
    double loss = -1.0, acc = -1.0;
    RP_CK(rp_task_score(task, B, y, tg, m, &loss, &acc), task, rp_task_last_error);
    ck_assert(isfinite(loss));

    double keep = tg[5];
    tg[5] = NAN;
    loss = acc = -1.0;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_NONFINITE);
    ck_assert_msg(strstr(rp_task_last_error(task), "target[5]") != NULL, "%s",
                  rp_task_last_error(task));
    ck_assert(loss == -1.0 && acc == -1.0);
    tg[5] = keep;

    m[3] = NAN;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_task_last_error(task), "mask[3]") != NULL, "%s",
                  rp_task_last_error(task));
    m[3] = -0.5;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_INVALID_ARG);
    ck_assert(loss == -1.0 && acc == -1.0);
    free(x);
    free(tg);
    free(m);
    free(y);
    rp_task_free(task);
}
END_TEST

/* A failing call on a live task names the argument in the task's message;
   this returned RP_ERR_INVALID_ARG with the previous call's text. */
START_TEST(messages_name_the_argument)
{
    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_COPY, NULL, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_task_get_config(task, NULL, sizeof(rp_task_config)), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_task_last_error(task), "cfg is NULL") != NULL, "%s",
                  rp_task_last_error(task));
    rp_task_free(task);
}
END_TEST

Suite *suite_task(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, dims_per_kind);
    tcase_add_loop_test(tc, determinism, RP_TASK_SINES, RP_TASK_CXT + 1);
    tcase_add_test(tc, stream_tasks_formulas);
    tcase_add_test(tc, sines_pattern);
    tcase_add_test(tc, two_af_statistics);
    tcase_add_test(tc, dms_statistics);
    tcase_add_test(tc, cxt_statistics);
    tcase_add_test(tc, score_hand_computed);
    tcase_add_test(tc, score_choices);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, task_score_checks_target_and_mask);
    tcase_add_test(tc, messages_name_the_argument);
    suite_add_tcase(s, tc);
    return s;
}
