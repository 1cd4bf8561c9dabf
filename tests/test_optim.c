/* test_optim.c: the optimizer kernels that emitted code calls, against
 * steps computed by hand (and by torch.optim's formulas). */
#include <criterion/criterion.h>

typedef double real;
#include "genrt_kernels.h"

Test(optim, adam_matches_hand_computed_steps) {
    real p = 1, m = 0, v = 0;
    const real grads[3] = {0.5, -1.0, 0.25};
    const double want[3] = {0.900000002, 0.9366103542405654, 0.9502794203389762};
    for (int t = 1; t <= 3; t++) {
        adam_update(&p, &grads[t - 1], &m, &v, 1, 0.1, 0.9, 0.999, 1e-8, 0, t);
        cr_expect_float_eq(p, want[t - 1], 1e-12, "step %d: %.17g", t, p);
    }
}

Test(optim, adam_weight_decay_adds_to_the_gradient) {
    real p = 1, m = 0, v = 0;
    const real grads[2] = {0.5, -1.0};
    const double want[2] = {0.9000000016666666, 0.9252635194456061};
    for (int t = 1; t <= 2; t++) {
        adam_update(&p, &grads[t - 1], &m, &v, 1, 0.1, 0.9, 0.999, 1e-8, 0.1, t);
        cr_expect_float_eq(p, want[t - 1], 1e-12, "step %d: %.17g", t, p);
    }
}

Test(optim, sgd_plain_momentum_nesterov_weight_decay) {
    real p = 1, g = 0.5;
    sgd_update(&p, &g, NULL, 1, 0.1, 0, 0, 0);
    cr_expect_float_eq(p, 0.95, 1e-15);

    real buf = 0;
    p = 1;
    sgd_update(&p, &g, &buf, 1, 0.1, 0.9, 0, 0);
    cr_expect_float_eq(p, 0.95, 1e-15);
    g = -1;
    sgd_update(&p, &g, &buf, 1, 0.1, 0.9, 0, 0);
    cr_expect_float_eq(buf, -0.55, 1e-15);
    cr_expect_float_eq(p, 1.005, 1e-15);

    buf = 0, p = 1, g = 0.5;
    sgd_update(&p, &g, &buf, 1, 0.1, 0.9, 0, 1);
    cr_expect_float_eq(p, 0.905, 1e-15);
    g = -1;
    sgd_update(&p, &g, &buf, 1, 0.1, 0.9, 0, 1);
    cr_expect_float_eq(p, 1.0545, 1e-15);

    p = 1, g = 0.5;
    sgd_update(&p, &g, NULL, 1, 0.1, 0, 0.01, 0);
    cr_expect_float_eq(p, 0.949, 1e-15);
}

Test(optim, softplus_is_stable) {
    cr_expect_float_eq(softplus(0), 0.6931471805599453, 1e-15);
    cr_expect_float_eq(softplus(800), 800, 1e-12);
    cr_expect_float_eq(softplus(-800), 0, 1e-300);
    cr_expect_float_eq(softplus(-30), 9.357622968839299e-14, 1e-25);
}
