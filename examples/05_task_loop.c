/* 05_task_loop — the loop a study runs (and the README shows): a task
   generator feeds a network, a learning rule turns each batch of trials into
   a gradient, an optimizer applies it.  Here e-prop learns the perceptual
   decision task (2af) from a Gaussian initialization with gain g = 1.5. */
#include "common.h"

int main(void)
{
    rp_task *task;
    rp_net *net;
    rp_init *init;
    rp_rule *rule;
    rp_optim *opt;
    rp_grad *g;
    size_t n_in, n_out, T, B = 16;
    rp_loss kind;
    double loss = 0.0, acc = 0.0;
    RP_CHECK(rp_task_create(&task, RP_TASK_2AF, NULL, NULL, 0), "see rp_task_config_check()");
    RP_CHECK(rp_task_get_dims(task, &n_in, &n_out, &T, &kind), rp_task_last_error(task));
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg); /* voltage form, relu, alpha 0.9 */
    cfg.n_in = n_in;
    cfg.n_out = n_out;
    cfg.batch = B;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "see rp_net_config_check()");
    RP_CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), "");
    RP_CHECK(rp_init_set_gain(init, 1.5), rp_init_last_error(init)); /* the study sweeps g */
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 42), rp_init_last_error(init));
    RP_CHECK(rp_init_set_gain(init, 1.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_U, 43), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_V, 44), rp_init_last_error(init));
    RP_CHECK(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), "");
    RP_CHECK(rp_rule_set_loss(rule, kind), rp_rule_last_error(rule));
    RP_CHECK(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), "");
    RP_CHECK(rp_optim_set_lr(opt, 3e-3), rp_optim_last_error(opt));
    RP_CHECK(rp_grad_create(&g, net, NULL, 0), "");
    double *x = malloc(T * B * n_in * sizeof *x), *target = malloc(T * B * sizeof *target),
           *mask = malloc(T * B * sizeof *mask), *y = malloc(T * B * n_out * sizeof *y);
    if (!x || !target || !mask || !y)
        return EXIT_FAILURE;
    for (int it = 0; it <= 300; it++) {
        RP_CHECK(rp_task_sample(task, B, (uint64_t)it, x, target, mask), rp_task_last_error(task));
        RP_CHECK(rp_grad_zero(g), "");
        RP_CHECK(rp_rule_trial(rule, net, T, x, target, mask, g, &loss), rp_rule_last_error(rule));
        RP_CHECK(rp_optim_step(opt, net, g), rp_optim_last_error(opt));
        if (it % 100 == 0) { /* score fresh trials with the network run forward */
            RP_CHECK(rp_task_sample(task, B, 1000000u + (uint64_t)it, x, target, mask), "");
            RP_CHECK(rp_net_reset(net), "");
            RP_CHECK(rp_net_run(net, T, x, y), rp_net_last_error(net));
            RP_CHECK(rp_task_score(task, B, y, target, mask, NULL, &acc), rp_task_last_error(task));
            printf("iteration %3d  training loss %.4f  test accuracy %.2f\n", it, loss, acc);
        }
    }
    free(x);
    free(target);
    free(mask);
    free(y);
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_init_free(init);
    rp_net_free(net);
    rp_task_free(task);
    return acc > 0.6 ? EXIT_SUCCESS : EXIT_FAILURE; /* chance is 0.5 */
}
