/* Writes the version-1 checkpoint fixture with the library of commit fd683ac
   (format version 1), for tests/test_ckpt.c (old_version_loads):
     git archive fd683ac | tar -x -C /tmp/old && make -C /tmp/old all
     cc -std=c11 -I/tmp/old/include -Itests tests/data/gen_ckpt_v1.c \
        /tmp/old/build/librnnplast.a $(pkg-config --libs openblas lapacke) -llapacke -lz -lm -o gen
     ./gen stop.ck full.ck
   then xxd -i of both into tests/ckpt_v1_fixture.h.  stop.ck: after V1_STOP
   iterations of tests/ckpt_v1_run.h; full.ck: after V1_ITERS, uninterrupted. */
#include <stdio.h>

#include "ckpt_v1_run.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    rp_net *net = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    double loss = 0.0;
    char msg[256] = "";
    rp_status st = v1_init(&net, &rule, &opt);
    if (st == RP_OK)
        st = v1_train(net, rule, opt, 0, V1_STOP, &loss);
    if (st == RP_OK)
        st = rp_checkpoint_save(net, opt, rule, argv[1], V1_STOP, &loss, sizeof loss, msg,
                                sizeof msg);
    if (st == RP_OK)
        st = v1_train(net, rule, opt, V1_STOP, V1_ITERS, &loss);
    if (st == RP_OK)
        st = rp_checkpoint_save(net, opt, rule, argv[2], V1_ITERS, &loss, sizeof loss, msg,
                                sizeof msg);
    if (st != RP_OK)
        fprintf(stderr, "gen_ckpt_v1: %s %s\n", rp_status_string(st), msg);
    rp_net_free(net);
    rp_rule_free(rule);
    rp_optim_free(opt);
    return st != RP_OK;
}
