/* ref: the C library's own numbers, the oracle of python/tests/test_bitexact.py.

   Each command builds a fixed scenario through the public API only and prints
   every array it computes as one line
       name ndim d0 d1 ... : v0 v1 ...
   with the values as C99 hex floats (%a), which Python's float.fromhex reads
   back exactly, so the test compares bit for bit.  The scenarios are mirrored
   in conftest.py (net_a, net_b, task_a, task_b, ramp): change both together.

     ref trials          every rule's trial on scenario A (2af, CE) and B (copy, MSE)
     ref stream          online streams (eprop, rflo, rtrl) on scenario B
     ref lyap            a Lyapunov spectrum (and the direct lambda_max) of net A
     ref floss           flossing F, exponents and gradient, exact and local, net A
     ref optim           two Adam steps and two SGD-momentum steps on net A
     ref savenet PATH    saves net A to PATH
     ref loadnet PATH    loads PATH and prints its configuration and arrays
     ref saveckpt PATH   checkpoint of scenario B mid-stream (see cmd_saveckpt)
     ref loadckpt PATH   loads such a checkpoint, prints it and finishes the stream
     ref npysave PATH    writes a (2,3,4) array with rp_npy_save
     ref npyload PATH d0 [d1 ...]   reads PATH with rp_npy_load and prints it  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnplast.h"

static void die(const char *where, rp_status st, const char *msg)
{
    fprintf(stderr, "ref: %s: %s (%s)\n", where, rp_status_string(st), msg ? msg : "");
    exit(EXIT_FAILURE);
}

#define CK(call, msg)               \
    do {                            \
        rp_status st_ = (call);     \
        if (st_ != RP_OK)           \
            die(#call, st_, (msg)); \
    } while (0)

static char g_msg[512];

/* name ndim d0 .. : values */
static void emit(const char *name, const double *a, size_t ndim, ...)
{
    size_t shape[8], n = 1;
    va_list ap;
    va_start(ap, ndim);
    for (size_t i = 0; i < ndim; i++) {
        shape[i] = va_arg(ap, size_t);
        n *= shape[i];
    }
    va_end(ap);
    printf("%s %zu", name, ndim);
    for (size_t i = 0; i < ndim; i++)
        printf(" %zu", shape[i]);
    printf(" :");
    for (size_t i = 0; i < n; i++)
        printf(" %a", a[i]);
    printf("\n");
}

static void emit1(const char *name, double v) { emit(name, &v, 0); }

static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, sizeof(double));
    if (!p) {
        fprintf(stderr, "ref: out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

static const char *const PNAME[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};

static void dims(const rp_net *net, size_t *n_in, size_t *n_rec, size_t *n_out, size_t *batch)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    CK(rp_net_get_config(net, &c, sizeof c), rp_net_last_error(net));
    *n_in = c.n_in;
    *n_rec = c.n_rec;
    *n_out = c.n_out;
    *batch = c.batch;
}

/* rows and cols of a parameter; a vector has cols = 0 (1-d). */
static void pshape(const rp_net *net, int p, size_t *rows, size_t *cols)
{
    size_t i, r, o, b;
    dims(net, &i, &r, &o, &b);
    switch (p) {
    case RP_PARAM_W:
        *rows = r;
        *cols = r;
        break;
    case RP_PARAM_U:
        *rows = r;
        *cols = i;
        break;
    case RP_PARAM_B:
        *rows = r;
        *cols = 0;
        break;
    case RP_PARAM_V:
        *rows = o;
        *cols = r;
        break;
    default:
        *rows = o;
        *cols = 0;
        break;
    }
}

/* The five parameter blocks of net (g NULL) or of gradient g, shaped. */
static void emit_blocks(const char *prefix, const rp_net *net, const rp_grad *g)
{
    char name[64];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len, rows, cols;
        CK(rp_net_get_param_len(net, (rp_param)p, &len), rp_net_last_error(net));
        double *a = xcalloc(len);
        if (g)
            CK(rp_grad_get(g, (rp_param)p, a, len), rp_grad_last_error(g));
        else
            CK(rp_net_get_param(net, (rp_param)p, a, len), rp_net_last_error(net));
        pshape(net, p, &rows, &cols);
        snprintf(name, sizeof name, "%s%s", prefix, PNAME[p]);
        if (cols)
            emit(name, a, 2, rows, cols);
        else
            emit(name, a, 1, rows);
        free(a);
    }
}

static void emit_params(const char *prefix, const rp_net *net) { emit_blocks(prefix, net, NULL); }

static void emit_grad(const char *prefix, const rp_net *net, const rp_grad *g)
{
    emit_blocks(prefix, net, g);
}

static void init_param(rp_net *net, rp_init_kind kind, double gain, rp_param p, uint64_t seed)
{
    rp_init *in = NULL;
    CK(rp_init_create(&in, kind, g_msg, sizeof g_msg), g_msg);
    CK(rp_init_set_gain(in, gain), rp_init_last_error(in));
    CK(rp_init_apply(in, net, p, seed), rp_init_last_error(in));
    rp_init_free(in);
}

static rp_net *make_net(size_t n_in, size_t n_rec, size_t n_out, size_t batch, double alpha,
                        rp_form form, rp_activation act, double noise_std, uint64_t seed)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = n_in;
    c.n_rec = n_rec;
    c.n_out = n_out;
    c.batch = batch;
    c.alpha = alpha;
    c.form = form;
    c.act = act;
    c.noise_std = noise_std;
    c.seed = seed;
    rp_net *net = NULL;
    CK(rp_net_create(&net, &c, g_msg, sizeof g_msg), g_msg);
    return net;
}

/* Scenario A (conftest.net_a): voltage form, tanh, 2af inputs. */
static rp_net *net_a(void)
{
    rp_net *net = make_net(3, 12, 3, 4, 0.8, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.0, 1);
    init_param(net, RP_INIT_GAUSSIAN, 1.3, RP_PARAM_W, 11);
    init_param(net, RP_INIT_GAUSSIAN, 1.0, RP_PARAM_U, 12);
    init_param(net, RP_INIT_GAUSSIAN, 1.0, RP_PARAM_V, 13);
    init_param(net, RP_INIT_GAUSSIAN, 0.1, RP_PARAM_B, 14);
    init_param(net, RP_INIT_GAUSSIAN, 0.1, RP_PARAM_C, 15);
    return net;
}

/* Scenario B (conftest.net_b): rate form, relu, noisy, copy inputs. */
static rp_net *net_b(void)
{
    rp_net *net = make_net(1, 10, 1, 3, 0.7, RP_FORM_RATE, RP_ACT_RELU, 0.05, 2);
    init_param(net, RP_INIT_GAUSSIAN, 1.1, RP_PARAM_W, 21);
    init_param(net, RP_INIT_GAUSSIAN, 1.0, RP_PARAM_U, 22);
    init_param(net, RP_INIT_GAUSSIAN, 1.0, RP_PARAM_V, 23);
    init_param(net, RP_INIT_GAUSSIAN, 0.1, RP_PARAM_B, 24);
    return net;
}

typedef struct sample {
    size_t T, B, n_in, n_out;
    rp_loss loss;
    double *x, *target, *mask;
} sample;

static sample draw(rp_task_kind kind, size_t delay, size_t T, size_t B, uint64_t seed)
{
    rp_task_config c;
    CK(rp_task_config_init(&c, sizeof c, kind), "task config");
    c.delay = delay;
    if (T)
        c.T = T;
    rp_task *task = NULL;
    CK(rp_task_create(&task, kind, &c, g_msg, sizeof g_msg), g_msg);
    sample s = {0};
    s.B = B;
    CK(rp_task_get_dims(task, &s.n_in, &s.n_out, &s.T, &s.loss), rp_task_last_error(task));
    size_t tcols = s.loss == RP_LOSS_CE ? 1 : s.n_out;
    s.x = xcalloc(s.T * B * s.n_in);
    s.target = xcalloc(s.T * B * tcols);
    s.mask = xcalloc(s.T * B);
    CK(rp_task_sample(task, B, seed, s.x, s.target, s.mask), rp_task_last_error(task));
    rp_task_free(task);
    return s;
}

/* Task A (conftest.task_a): 2af with delay 2 (T = 18), 4 trials, seed 7. */
static sample task_a(void) { return draw(RP_TASK_2AF, 2, 0, 4, 7); }
/* Task B (conftest.task_b): copy with delay 3, T = 20, 3 trials, seed 8. */
static sample task_b(void) { return draw(RP_TASK_COPY, 3, 20, 3, 8); }

static void emit_sample(const char *p, const sample *s)
{
    char n[64];
    snprintf(n, sizeof n, "%sX", p);
    emit(n, s->x, 3, s->T, s->B, s->n_in);
    snprintf(n, sizeof n, "%starget", p);
    if (s->loss == RP_LOSS_CE)
        emit(n, s->target, 2, s->T, s->B);
    else
        emit(n, s->target, 3, s->T, s->B, s->n_out);
    snprintf(n, sizeof n, "%smask", p);
    emit(n, s->mask, 2, s->T, s->B);
}

static void free_sample(sample *s)
{
    free(s->x);
    free(s->target);
    free(s->mask);
}

static const rp_rule_kind KINDS[] = {RP_RULE_BPTT,  RP_RULE_TBPTT, RP_RULE_RTRL,
                                     RP_RULE_EPROP, RP_RULE_RFLO,  RP_RULE_MODPROP};

/* A rule of @p kind on @p net with the settings conftest._rule gives it:
   TBPTT with K = 4; ModProp with two cell types (unit i has type i mod 2)
   and mu = 0.7. */
static rp_rule *rule_of(rp_net *net, rp_rule_kind kind)
{
    rp_rule *rule = NULL;
    CK(rp_rule_create(&rule, net, kind, g_msg, sizeof g_msg), g_msg);
    if (kind == RP_RULE_TBPTT)
        CK(rp_rule_set_truncation(rule, 4), rp_rule_last_error(rule));
    if (kind == RP_RULE_MODPROP) {
        size_t n_in, n_rec, n_out, batch;
        dims(net, &n_in, &n_rec, &n_out, &batch);
        unsigned *types = xcalloc(n_rec); /* room for n_rec doubles, more than enough */
        for (size_t i = 0; i < n_rec; i++)
            types[i] = (unsigned)(i % 2);
        CK(rp_rule_set_cell_types(rule, types, n_rec), rp_rule_last_error(rule));
        CK(rp_rule_set_modprop_mu(rule, 0.7), rp_rule_last_error(rule));
        free(types);
    }
    return rule;
}

/* Every rule's trial from a zero gradient (rule_of's settings). */
static void trials_on(const char *p, rp_net *net, const sample *s)
{
    char n[64];
    emit_sample(p, s);
    size_t n_out = s->n_out;
    double *y = xcalloc(s->T * s->B * n_out);
    CK(rp_net_reset(net), rp_net_last_error(net));
    CK(rp_net_run(net, s->T, s->x, y), rp_net_last_error(net));
    snprintf(n, sizeof n, "%sY", p);
    emit(n, y, 3, s->T, s->B, n_out);
    free(y);
    rp_grad *g = NULL;
    CK(rp_grad_create(&g, net, g_msg, sizeof g_msg), g_msg);
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
        rp_rule *rule = rule_of(net, KINDS[k]);
        CK(rp_rule_set_loss(rule, s->loss), rp_rule_last_error(rule));
        CK(rp_grad_zero(g), rp_grad_last_error(g));
        double loss = 0.0;
        CK(rp_rule_trial(rule, net, s->T, s->x, s->target, s->mask, g, &loss),
           rp_rule_last_error(rule));
        snprintf(n, sizeof n, "%sloss_%s", p, rp_rule_kind_name(KINDS[k]));
        emit1(n, loss);
        snprintf(n, sizeof n, "%sg_%s_", p, rp_rule_kind_name(KINDS[k]));
        emit_grad(n, net, g);
        rp_rule_free(rule);
    }
    rp_grad_free(g);
}

static int cmd_trials(void)
{
    rp_net *a = net_a();
    sample sa = task_a();
    emit_params("A_", a);
    trials_on("A_", a, &sa);
    rp_net *b = net_b();
    sample sb = task_b();
    emit_params("B_", b);
    trials_on("B_", b, &sb);
    free_sample(&sa);
    free_sample(&sb);
    rp_net_free(a);
    rp_net_free(b);
    return 0;
}

/* One online stream of rule @p kind over sample @p s from the net's reset
   state: outputs of every step, the mean loss and the gradient. */
static void stream_of(const char *p, rp_net *net, rp_rule_kind kind, const sample *s)
{
    char n[64];
    size_t B = s->B, I = s->n_in, O = s->n_out;
    rp_rule *rule = rule_of(net, kind);
    rp_grad *g = NULL;
    CK(rp_grad_create(&g, net, g_msg, sizeof g_msg), g_msg);
    double *y = xcalloc(s->T * B * O);
    CK(rp_net_reset(net), rp_net_last_error(net));
    CK(rp_rule_begin(rule, net), rp_rule_last_error(rule));
    for (size_t t = 0; t < s->T; t++) {
        CK(rp_net_step(net, s->x + t * B * I, y + t * B * O), rp_net_last_error(net));
        CK(rp_rule_step(rule, net, s->x + t * B * I, s->target + t * B * O, s->mask + t * B, g),
           rp_rule_last_error(rule));
    }
    double loss = -1.0;
    CK(rp_rule_end(rule, &loss), rp_rule_last_error(rule));
    snprintf(n, sizeof n, "%s%s_Y", p, rp_rule_kind_name(kind));
    emit(n, y, 3, s->T, B, O);
    snprintf(n, sizeof n, "%s%s_loss", p, rp_rule_kind_name(kind));
    emit1(n, loss);
    snprintf(n, sizeof n, "%s%s_g_", p, rp_rule_kind_name(kind));
    emit_grad(n, net, g);
    size_t n_in, n_rec, n_out, batch;
    dims(net, &n_in, &n_rec, &n_out, &batch);
    double *st = xcalloc(batch * n_rec);
    CK(rp_net_get_state(net, st, batch * n_rec), rp_net_last_error(net));
    snprintf(n, sizeof n, "%s%s_state", p, rp_rule_kind_name(kind));
    emit(n, st, 2, batch, n_rec);
    free(st);
    free(y);
    rp_grad_free(g);
    rp_rule_free(rule);
}

/* Streams follow the net's noisy trajectory: the noise generator runs on
   from one stream to the next (reset restores the state, not the generator),
   so the Python side must run them in this order on one net. */
static int cmd_stream(void)
{
    rp_net *b = net_b();
    sample sb = task_b();
    stream_of("S_", b, RP_RULE_EPROP, &sb);
    stream_of("S_", b, RP_RULE_RFLO, &sb);
    stream_of("S_", b, RP_RULE_RTRL, &sb);
    stream_of("S_", b, RP_RULE_MODPROP, &sb);
    free_sample(&sb);
    rp_net_free(b);
    return 0;
}

/* ramp (conftest.ramp): x[t][i] = ((7 t + 3 i) mod 11) / 10 - 0.5, exact in
   both languages (one correctly rounded division). */
static double *ramp(size_t T, size_t n_in)
{
    double *x = xcalloc(T * n_in);
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n_in; i++)
            x[t * n_in + i] = (double)((7 * t + 3 * i) % 11) / 10.0 - 0.5;
    return x;
}

static int cmd_lyap(void)
{
    rp_net *a = net_a();
    const size_t T = 40, k = 4;
    double *x = ramp(T, 3);
    rp_lyap_config c;
    rp_lyap_config_init(&c, sizeof c);
    c.t_ons = 2;
    c.transient = 6;
    c.seed = 5;
    rp_lyap *ly = NULL;
    CK(rp_lyap_create(&ly, a, k, &c, g_msg, sizeof g_msg), g_msg);
    CK(rp_lyap_run(ly, a, T, x), rp_lyap_last_error(ly));
    double spec[4], local[4];
    CK(rp_lyap_get_spectrum(ly, spec, k), rp_lyap_last_error(ly));
    CK(rp_lyap_get_local(ly, local, k), rp_lyap_last_error(ly));
    emit("L_spectrum", spec, 1, k);
    emit("L_local", local, 1, k);
    double lmax = 0.0;
    CK(rp_lyap_max_direct(a, T, x, 6, 1e-7, 5, &lmax, g_msg, sizeof g_msg), g_msg);
    emit1("L_lmax", lmax);
    rp_lyap_free(ly);
    free(x);
    rp_net_free(a);
    return 0;
}

static int cmd_floss(void)
{
    rp_net *a = net_a();
    const size_t T = 30, k = 3;
    double *x = ramp(T, 3);
    const rp_floss_mode modes[2] = {RP_FLOSS_EXACT, RP_FLOSS_LOCAL};
    const char *names[2] = {"exact", "local"};
    rp_grad *g = NULL;
    CK(rp_grad_create(&g, a, g_msg, sizeof g_msg), g_msg);
    for (int m = 0; m < 2; m++) {
        rp_floss_config c;
        rp_floss_config_init(&c, sizeof c);
        c.k = k;
        c.target = 0.1;
        c.t_ons = 2;
        c.transient = 4;
        c.mode = modes[m];
        c.seed = 9;
        rp_floss *fl = NULL;
        CK(rp_floss_create(&fl, a, &c, g_msg, sizeof g_msg), g_msg);
        CK(rp_grad_zero(g), rp_grad_last_error(g));
        double F = 0.0, lam[3];
        CK(rp_floss_trial(fl, a, T, x, g, &F, lam), rp_floss_last_error(fl));
        char n[64];
        snprintf(n, sizeof n, "F_%s_F", names[m]);
        emit1(n, F);
        snprintf(n, sizeof n, "F_%s_lambdas", names[m]);
        emit(n, lam, 1, k);
        snprintf(n, sizeof n, "F_%s_g_", names[m]);
        emit_grad(n, a, g);
        rp_floss_free(fl);
    }
    rp_grad_free(g);
    free(x);
    rp_net_free(a);
    return 0;
}

/* Two Adam steps (lr 3e-3, clip 1.0) and, on a fresh net A, two SGD steps
   (lr 0.05, momentum 0.9) with the BPTT gradient of scenario A. */
static int cmd_optim(void)
{
    sample s = task_a();
    for (int kind = 0; kind < 2; kind++) {
        rp_net *a = net_a();
        rp_grad *g = NULL;
        CK(rp_grad_create(&g, a, g_msg, sizeof g_msg), g_msg);
        rp_rule *rule = NULL;
        CK(rp_rule_create(&rule, a, RP_RULE_BPTT, g_msg, sizeof g_msg), g_msg);
        CK(rp_rule_set_loss(rule, RP_LOSS_CE), rp_rule_last_error(rule));
        CK(rp_rule_trial(rule, a, s.T, s.x, s.target, s.mask, g, NULL), rp_rule_last_error(rule));
        rp_optim *opt = NULL;
        const char *p1, *p2;
        if (kind == 0) {
            CK(rp_optim_create(&opt, a, RP_OPTIM_ADAM, g_msg, sizeof g_msg), g_msg);
            CK(rp_optim_set_lr(opt, 3e-3), rp_optim_last_error(opt));
            CK(rp_optim_set_clip(opt, 1.0), rp_optim_last_error(opt));
            p1 = "O_adam1_";
            p2 = "O_adam2_";
        } else {
            CK(rp_optim_create(&opt, a, RP_OPTIM_SGD, g_msg, sizeof g_msg), g_msg);
            CK(rp_optim_set_lr(opt, 0.05), rp_optim_last_error(opt));
            CK(rp_optim_set_momentum(opt, 0.9), rp_optim_last_error(opt));
            p1 = "O_sgd1_";
            p2 = "O_sgd2_";
        }
        CK(rp_optim_step(opt, a, g), rp_optim_last_error(opt));
        emit_params(p1, a);
        CK(rp_optim_step(opt, a, g), rp_optim_last_error(opt));
        emit_params(p2, a);
        rp_optim_free(opt);
        rp_rule_free(rule);
        rp_grad_free(g);
        rp_net_free(a);
    }
    free_sample(&s);
    return 0;
}

static int cmd_savenet(const char *path)
{
    rp_net *a = net_a();
    CK(rp_net_save(a, path), rp_net_last_error(a));
    rp_net_free(a);
    return 0;
}

static void emit_net(const char *p, const rp_net *net)
{
    char n[64];
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    CK(rp_net_get_config(net, &c, sizeof c), rp_net_last_error(net));
    double cf[9] = {(double)c.n_in, (double)c.n_rec, (double)c.n_out, (double)c.batch, c.alpha,
                    (double)c.form, (double)c.act,   c.noise_std,     (double)c.seed};
    snprintf(n, sizeof n, "%sconfig", p);
    emit(n, cf, 1, (size_t)9);
    emit_params(p, net);
    double *h0 = xcalloc(c.n_rec), *st = xcalloc(c.batch * c.n_rec);
    CK(rp_net_get_initial_state(net, h0, c.n_rec), rp_net_last_error(net));
    CK(rp_net_get_state(net, st, c.batch * c.n_rec), rp_net_last_error(net));
    snprintf(n, sizeof n, "%sh0", p);
    emit(n, h0, 1, c.n_rec);
    snprintf(n, sizeof n, "%sstate", p);
    emit(n, st, 2, c.batch, c.n_rec);
    free(h0);
    free(st);
}

static int cmd_loadnet(const char *path)
{
    rp_net *net = NULL;
    CK(rp_net_load(&net, path, g_msg, sizeof g_msg), g_msg);
    emit_net("N_", net);
    rp_net_free(net);
    return 0;
}

enum { CK_SPLIT = 5 };

/* Scenario B: an Adam optimizer (lr 1e-2) that took one step with the BPTT
   gradient of task B, then an e-prop stream of CK_SPLIT steps on task B
   from the reset state; saved with iteration 17 and user bytes "hello". */
static int cmd_saveckpt(const char *path)
{
    rp_net *b = net_b();
    sample s = task_b();
    rp_grad *g = NULL;
    CK(rp_grad_create(&g, b, g_msg, sizeof g_msg), g_msg);
    rp_rule *bptt = NULL;
    CK(rp_rule_create(&bptt, b, RP_RULE_BPTT, g_msg, sizeof g_msg), g_msg);
    CK(rp_rule_trial(bptt, b, s.T, s.x, s.target, s.mask, g, NULL), rp_rule_last_error(bptt));
    rp_optim *opt = NULL;
    CK(rp_optim_create(&opt, b, RP_OPTIM_ADAM, g_msg, sizeof g_msg), g_msg);
    CK(rp_optim_set_lr(opt, 1e-2), rp_optim_last_error(opt));
    CK(rp_optim_step(opt, b, g), rp_optim_last_error(opt));
    rp_rule *ep = NULL;
    CK(rp_rule_create(&ep, b, RP_RULE_EPROP, g_msg, sizeof g_msg), g_msg);
    CK(rp_grad_zero(g), rp_grad_last_error(g));
    CK(rp_net_reset(b), rp_net_last_error(b));
    CK(rp_rule_begin(ep, b), rp_rule_last_error(ep));
    for (size_t t = 0; t < CK_SPLIT; t++) {
        CK(rp_net_step(b, s.x + t * s.B, NULL), rp_net_last_error(b));
        CK(rp_rule_step(ep, b, s.x + t * s.B, s.target + t * s.B, s.mask + t * s.B, g),
           rp_rule_last_error(ep));
    }
    CK(rp_checkpoint_save(b, opt, ep, path, 17, "hello", 5, g_msg, sizeof g_msg), g_msg);
    rp_rule_free(ep);
    rp_optim_free(opt);
    rp_rule_free(bptt);
    rp_grad_free(g);
    free_sample(&s);
    rp_net_free(b);
    return 0;
}

/* Load a checkpoint of cmd_saveckpt's shape; print the net, the iteration and
   the user bytes; finish the stream over task B's remaining steps with a
   fresh gradient (outputs, mean loss, gradient), then take one optimizer
   step with that gradient (the moments show in the parameters). */
static int cmd_loadckpt(const char *path)
{
    rp_net *net = NULL;
    rp_optim *opt = NULL;
    rp_rule *rule = NULL;
    uint64_t iter = 0;
    unsigned char user[64];
    size_t ulen = 0;
    CK(rp_checkpoint_load(&net, &opt, &rule, path, &iter, user, sizeof user, &ulen, g_msg,
                          sizeof g_msg),
       g_msg);
    emit_net("C_", net);
    emit1("C_iteration", (double)iter);
    double u[64];
    for (size_t i = 0; i < ulen; i++)
        u[i] = user[i];
    emit("C_user", u, 1, ulen);
    sample s = task_b();
    rp_grad *g = NULL;
    CK(rp_grad_create(&g, net, g_msg, sizeof g_msg), g_msg);
    size_t rest = s.T - CK_SPLIT;
    double *y = xcalloc(rest * s.B);
    for (size_t t = CK_SPLIT; t < s.T; t++) {
        CK(rp_net_step(net, s.x + t * s.B, y + (t - CK_SPLIT) * s.B), rp_net_last_error(net));
        CK(rp_rule_step(rule, net, s.x + t * s.B, s.target + t * s.B, s.mask + t * s.B, g),
           rp_rule_last_error(rule));
    }
    double loss = -1.0;
    CK(rp_rule_end(rule, &loss), rp_rule_last_error(rule));
    emit("C_Y", y, 3, rest, s.B, (size_t)1);
    emit1("C_loss", loss);
    emit_grad("C_g_", net, g);
    CK(rp_optim_step(opt, net, g), rp_optim_last_error(opt));
    emit_params("C_after_", net);
    free(y);
    rp_grad_free(g);
    free_sample(&s);
    rp_rule_free(rule);
    rp_optim_free(opt);
    rp_net_free(net);
    return 0;
}

static int cmd_npysave(const char *path)
{
    double a[24];
    for (size_t i = 0; i < 24; i++)
        a[i] = (double)((int)(i * 5 % 13) - 6) / 7.0;
    const size_t shape[3] = {2, 3, 4};
    CK(rp_npy_save(path, a, 3, shape, g_msg, sizeof g_msg), g_msg);
    return 0;
}

static int cmd_npyload(const char *path, int nd, char **dv)
{
    size_t shape[RP_NPY_MAX_DIM], n = 1;
    if (nd < 1 || nd > RP_NPY_MAX_DIM)
        return 2;
    for (int i = 0; i < nd; i++) {
        shape[i] = strtoul(dv[i], NULL, 10);
        n *= shape[i];
    }
    double *a = xcalloc(n);
    CK(rp_npy_load(path, a, (size_t)nd, shape, g_msg, sizeof g_msg), g_msg);
    printf("npy %d", nd);
    for (int i = 0; i < nd; i++)
        printf(" %zu", shape[i]);
    printf(" :");
    for (size_t i = 0; i < n; i++)
        printf(" %a", a[i]);
    printf("\n");
    free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ref COMMAND [ARGS]  (see the comment at the top of ref.c)\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "trials"))
        return cmd_trials();
    if (!strcmp(c, "stream"))
        return cmd_stream();
    if (!strcmp(c, "lyap"))
        return cmd_lyap();
    if (!strcmp(c, "floss"))
        return cmd_floss();
    if (!strcmp(c, "optim"))
        return cmd_optim();
    if (argc >= 3 && !strcmp(c, "savenet"))
        return cmd_savenet(argv[2]);
    if (argc >= 3 && !strcmp(c, "loadnet"))
        return cmd_loadnet(argv[2]);
    if (argc >= 3 && !strcmp(c, "saveckpt"))
        return cmd_saveckpt(argv[2]);
    if (argc >= 3 && !strcmp(c, "loadckpt"))
        return cmd_loadckpt(argv[2]);
    if (argc >= 3 && !strcmp(c, "npysave"))
        return cmd_npysave(argv[2]);
    if (argc >= 4 && !strcmp(c, "npyload"))
        return cmd_npyload(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "ref: unknown command or missing argument: %s\n", c);
    return 2;
}
