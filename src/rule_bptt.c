/* Placeholder until the bptt kernels land: the rule reports that it is not built. */
#include "internal.h"

rp_status rp__bptt_init(rp_rule *rule, const rp_net *net)
{
    (void)net;
    return rp__fail(rule->err, RP_ERR_UNSUPPORTED, "not implemented yet");
}
