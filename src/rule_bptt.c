/* BPTT (MODEL.md §4.1) and truncated BPTT(K) (§4.2): the exact gradient of
   the loss of §3 by a reverse pass over a stored trajectory.

   Rules use the deterministic dynamics of §1: a trial runs from the initial
   state net->h0 in every batch row without the noise term σξ_t (the gradient
   of a noisy trajectory would depend on one draw of the noise), on the rule's
   own workspaces; the net is not changed.

   Layout of the stored trajectory, every block stacked over time as T·B rows
   of N (row t·B + b is step t+1 of trial b):
     Z   (T+1)·B·N  z_0..z_T, the presynaptic / readout activity: f(h_t)
                    (voltage form) or r_t (rate form); z_0 comes from h0
     Dp  T·B·N      f'(h_t) (voltage) or f'(u_t) (rate), t = 1..T
     Dl  T·B·N      first e_t V, then in place the adjoint terms δ_t = ∂E/∂(drive
                    of step t), so that every parameter gradient is one GEMM
                    over the T·B stacked rows:
                      G_W = Δᵀ Z_{0..T-1},  G_U = Δᵀ X,  G_b = Δᵀ 1,
                      G_V = Eᵀ Z_{1..T},    G_c = Eᵀ 1.
   With a_t = ∂E/∂state_t (through all later steps) and g_t = e_t V:
     voltage: a_t = α a_{t+1} + f'(h_t) ⊙ (g_t + (1−α) a_{t+1} W),  δ_t = (1−α) a_t
              (in δ: δ_t = α δ_{t+1} + (1−α) f'(h_t) ⊙ (g_t + δ_{t+1} W))
     rate:    a_t = g_t + α a_{t+1} + δ_{t+1} W,  δ_t = (1−α) f'(u_t) ⊙ a_t
   Only this recurrence is sequential (one B×N by N×N product a step).
   Memory O(T·B·N); nothing of size T·N².

   TBPTT(K): the gradient of each loss term E_s flows back through the
   states s, s−1, ..., s−K+1 only (K states, K−1 Jacobians): the parameters'
   immediate effect on those K states counts, older paths are cut.  K ≥ T is
   BPTT (the same code path, bit for bit).  For K < T the adjoints of the up
   to K loss terms whose windows contain step t cannot be merged (a term must
   leave the sum after K steps, and the Jacobian products do not invert), so
   the reverse pass carries them as one (K·B)×N block in a ring indexed by
   s mod K: the recurrence costs O(T·K·B·N²) flops (K times BPTT's, done as
   K·B-row GEMMs), the parameter GEMMs are those of BPTT, and the extra
   memory is 2·K·B·N (allocated as 2·T·B·N so that a later change of K
   needs no allocation in a trial).

   Precision: the kernels are src/bptt_kernels.h, compiled here twice —
   double for the nets of RP_PRECISION_DOUBLE, float for RP_PRECISION_SINGLE
   (which sums run in double there: that file's comments). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define RB_DOUBLE
#include "bptt_kernels.h"
#undef RB_DOUBLE
#define RB_SINGLE
#include "bptt_kernels.h"
#undef RB_SINGLE

static const rp_rule_ops bptt_ops_d = {
    .reserve = bptt_reserve_d,
    .trial = bptt_trial_d,
    .begin = NULL, /* BPTT needs the whole trial: no online mode */
    .step = NULL,
    .destroy = bptt_destroy_d,
};

static const rp_rule_ops bptt_ops_f = {
    .reserve = bptt_reserve_f,
    .trial = bptt_trial_f,
    .begin = NULL,
    .step = NULL,
    .destroy = bptt_destroy_f,
};

rp_status rp__bptt_init(rp_rule *rule, const rp_net *net)
{
    const int single = net->cfg.precision == RP_PRECISION_SINGLE;
    /* the float and double workspaces differ in their element type (and the
       float one has the conversion buffers) */
    void *w = rp__calloc(&rule->al, 1, single ? sizeof(bptt_ws_f) : sizeof(bptt_ws_d));
    if (!w)
        return RP_ERR_NOMEM;
    rule->impl = w;
    rule->ops = single ? &bptt_ops_f : &bptt_ops_d;
    return RP_OK;
}
