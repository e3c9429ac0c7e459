COMMENT
RnnLearner: a recurrent network that learns online (librnnplast) inside NEURON.

Inputs: NetCon events (weight[0] = amplitude added to an exponential input
trace, weight[1] = input channel, 0-based) and/or the continuous input
xin[ch] (Vector.play or assignment).  Every dt_r ms a self-event steps the
network on input = trace + xin and, when learning = 1, the online rule against
target[k] (Vector.play or assignment), with an optimizer step every `every`
ticks.  Outputs: y[k], read by RnnClamp through a POINTER.

A POINT_PROCESS without a current rather than an ARTIFICIAL_CELL: placed in a
section (e.g. of the cell its output drives) it belongs to that section's
thread, so Vector.play into it and RnnClamp's POINTER to its output stay in
one thread under ParallelContext.nthread(n).  All calls into the library go
through rnnplast_nrn.h, whose names cannot collide with the #defines NMODL
makes of the RANGE names below (n_in, target, y, ...).
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS RnnLearner
    RANGE n_in, n_rec, n_out, tau, dt_r, tau_in, gain, seed, rule, optim, lr, every, act, learning
    RANGE xin, target, y, loss, ticks, failed
    POINTER handle
}

PARAMETER {
    n_in = 1
    n_rec = 64
    n_out = 1
    tau = 10 (ms)
    dt_r = 1 (ms)
    tau_in = 10 (ms)
    gain = 1.2
    seed = 1
    rule = 3     : 3 e-prop, 4 RFLO, 2 RTRL (rp_rule_kind)
    optim = 1    : 0 SGD, 1 Adam (rp_optim_kind)
    lr = 0.001
    every = 10
    act = 1      : 0 relu, 1 tanh, 2 linear (rp_activation)
    learning = 1
}

ASSIGNED {
    xin[16]
    target[16]
    y[16]
    loss
    ticks
    failed
    handle
}

VERBATIM
#include "rnnplast_nrn.h"
/* The learner lives in the POINTER slot, one per instance. */
#define RPN_L_ (*(rpn_learner **)(&(_p_handle)))
#define RPN_FAIL_(L_) hoc_execerror("RnnLearner:", rpn_error(L_))
/* A failure during the run.  NEURON's thread 0 runs in the main thread,
   where hoc_execerror unwinds to the interpreter.  From a worker thread
   (ParallelContext.nthread(n > 1)) hoc_execerror would jump across threads
   and NEURON hangs (seen with 8.2), so there the learner stops (failed = 1,
   no more ticks), stops the run (stoprun, as stdrun's stop button), prints
   the message, and check() raises it from the main thread. */
#define RPN_RUN_FAIL_(L_)                                                      \
    do {                                                                       \
        if (_nt == nrn_threads) /* thread 0 */                                \
            RPN_FAIL_(L_);                                                     \
        failed = 1;                                                            \
        stoprun = 1;                                                           \
        fprintf(stderr, "RnnLearner: %s\n(in worker thread %d: the run stops; "  \
                "the learner's check() raises this error)\n", rpn_error(L_), (int)(_nt - nrn_threads)); \
    } while (0)
extern void hoc_execerror(const char *, const char *);
extern char *hoc_gargstr(int);
extern int stoprun;
ENDVERBATIM

CONSTRUCTOR {
VERBATIM
    RPN_L_ = rpn_new();
    if (!RPN_L_)
        hoc_execerror("RnnLearner:", "out of memory");
ENDVERBATIM
}

DESTRUCTOR {
VERBATIM
    rpn_free(RPN_L_);
    RPN_L_ = 0;
ENDVERBATIM
}

INITIAL {
VERBATIM
    {
        rpn_learner *rpn_l_ = RPN_L_;
        if (rpn_set(rpn_l_, "n_in", n_in) || rpn_set(rpn_l_, "n_rec", n_rec)
            || rpn_set(rpn_l_, "n_out", n_out) || rpn_set(rpn_l_, "tau", tau)
            || rpn_set(rpn_l_, "dt_r", dt_r) || rpn_set(rpn_l_, "tau_in", tau_in)
            || rpn_set(rpn_l_, "gain", gain) || rpn_set(rpn_l_, "seed", seed)
            || rpn_set(rpn_l_, "rule", rule) || rpn_set(rpn_l_, "optim", optim)
            || rpn_set(rpn_l_, "lr", lr) || rpn_set(rpn_l_, "every", every)
            || rpn_set(rpn_l_, "act", act) || rpn_set(rpn_l_, "learning", learning)
            || rpn_init(rpn_l_))
            RPN_FAIL_(rpn_l_);
    }
ENDVERBATIM
    failed = 0
    outputs()
    net_send(dt_r, 1)
}

PROCEDURE outputs() {
VERBATIM
    {
        int rpn_k_;
        for (rpn_k_ = 0; rpn_k_ < RPN_MAX_IO; rpn_k_++)
            y[rpn_k_] = rpn_output(RPN_L_, rpn_k_);
        loss = rpn_mean_loss(RPN_L_);
        ticks = rpn_ticks(RPN_L_);
    }
ENDVERBATIM
}

NET_RECEIVE(w, ch) {
    INITIAL {
        : present so that finitialize keeps each NetCon's weight[1] (the
        : channel); without it NEURON zeroes it and every event hits channel 0
    }
    if (failed) {
        : stopped by an error in a worker thread; check() raises it
    } else if (flag == 1) {
VERBATIM
        {
            rpn_learner *rpn_l_ = RPN_L_;
            if (rpn_set(rpn_l_, "learning", learning) || rpn_tick(rpn_l_, xin, target))
                RPN_RUN_FAIL_(rpn_l_);
        }
ENDVERBATIM
        if (!failed) {
            outputs()
            net_send(dt_r, 1)
        }
    } else {
VERBATIM
        if (rpn_input(RPN_L_, _args[1], _args[0]))
            RPN_RUN_FAIL_(RPN_L_);
ENDVERBATIM
    }
}

PROCEDURE check() {
VERBATIM
    if (failed)
        RPN_FAIL_(RPN_L_);
ENDVERBATIM
}

PROCEDURE save() {
VERBATIM
    if (failed)
        RPN_FAIL_(RPN_L_);
    if (rpn_save(RPN_L_, hoc_gargstr(1)))
        RPN_FAIL_(RPN_L_);
ENDVERBATIM
}

PROCEDURE restore() {
VERBATIM
    if (rpn_restore(RPN_L_, hoc_gargstr(1)))
        RPN_FAIL_(RPN_L_);
ENDVERBATIM
    outputs()
}
