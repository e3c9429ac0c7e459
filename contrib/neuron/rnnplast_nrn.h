/* rnnplast_nrn.h: the adapter between NEURON's MOD files and librnnplast.

   NMODL turns every RANGE, PARAMETER, ASSIGNED and POINTER name of a MOD
   file into a #define ahead of the VERBATIM code, so this header — the only
   one the MOD files include — declares nothing but names starting with
   rpn_, and its prototypes carry no parameter names (a parameter called
   `target` or `n_in` would be rewritten into `_p[3]`).  rnnplast.h itself is
   included only by rnnplast_nrn.c, compiled outside NMODL.

   Every call that can fail returns 0 on success, or the rp_status value
   (> 0) with the message — the library's own, prefixed by what the adapter
   was doing — in rpn_error().  The MOD files pass that message on to
   hoc_execerror(). */
#ifndef RNNPLAST_NRN_H
#define RNNPLAST_NRN_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rpn_learner rpn_learner;

/* Most inputs and outputs a learner has (the MOD files' array sizes). */
#define RPN_MAX_IO 16

/* A learner with the default settings and no network yet; NULL when out of
   memory.  rpn_free(NULL) is a no-op. */
rpn_learner *rpn_new(void);
void rpn_free(rpn_learner *);

/* Set one setting by name (the list is in README.md: n_in, n_rec, n_out,
   tau, dt_r, tau_in, gain, seed, rule, optim, lr, every, act, learning).
   Settings take effect at the next rpn_init(), except `learning`, which
   takes effect at the next tick. */
int rpn_set(rpn_learner *, const char *, double);

/* Start a run (NEURON's INITIAL): (re)build the network, rule, optimizer
   and gradient when a structural setting changed since the last build (or
   none was built), else keep the learned weights; set alpha = 1 - dt_r/tau;
   reset the state to the initial state, clear the input traces and the
   accumulated gradient and open a new online stream. */
int rpn_init(rpn_learner *);

/* One input event: add the weight (2nd argument) to the trace of input
   channel (1st argument, 0-based, < n_in). */
int rpn_input(rpn_learner *, double, double);

/* One tick of dt_r: input = traces + continuous input (n_in doubles, the
   2nd argument), step the network, and, when learning, the rule against the
   targets (n_out doubles, 3rd argument) and every `every` ticks the
   optimizer; then decay the traces by exp(-dt_r/tau_in). */
int rpn_tick(rpn_learner *, const double *, const double *);

/* The last tick's output k (0 before the first tick or out of range). */
double rpn_output(const rpn_learner *, double);
/* Mean per-tick loss 0.5 |y - y*|^2 since rpn_init() (learning or not). */
double rpn_mean_loss(const rpn_learner *);
/* Ticks since rpn_init(). */
double rpn_ticks(const rpn_learner *);

/* Mid-stream checkpoint: the network with its live state, the optimizer's
   moments, the rule with its open stream (rp_checkpoint_save), plus the
   adapter's own state (traces, last outputs, accumulated gradient, tick
   counter, settings) in the checkpoint's user bytes. */
int rpn_save(rpn_learner *, const char *);
int rpn_restore(rpn_learner *, const char *);

/* The last failure's message ("" if none). */
const char *rpn_error(const rpn_learner *);

#ifdef __cplusplus
}
#endif
#endif
