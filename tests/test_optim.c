/* test_optim.c: the optimizer kernels that emitted code calls, against
 * steps computed by hand (and by torch.optim's formulas). */
#include <criterion/criterion.h>
#include <stdbool.h>

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

/* Every combination of RMSprop's settings against torch.optim.RMSprop
 * (PyTorch 1.13, float64; lr 0.01, alpha 0.99, eps 1e-8), three steps on
 * two parameters. The expected values are torch's, printed with %.17g by:
 *   opt = torch.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8,
 *                             weight_decay=wd, momentum=mom, centered=c)
 *   for g in ([0.5, -1], [-1, 0.25], [0.25, 2]): p.grad = g; opt.step() */
Test(optim, rmsprop_every_setting_matches_torch) {
    static const struct {
        bool centered;
        double momentum, weight_decay, want[3][2];
    } cases[] = {
        {false, 0, 0, {{0.90000001999999601, -1.900000009999999}, {0.98953230819113369, -1.9243685165661313},
                       {0.96758495749040285, -2.0134381433072908}}},
        {false, 0, 0.1, {{0.90000001666666396, -1.9000000083333326}, {0.98361301929054379, -1.9050188639762715},
                         {0.95298908735087695, -1.988580923177623}}},
        {false, 0.9, 0, {{0.90000001999999601, -1.900000009999999}, {0.8995323261911301, -1.8343685255661304},
                         {0.8771640510624199, -1.8643698163168079}}},
        {false, 0.9, 0.1, {{0.90000001666666396, -1.9000000083333326}, {0.8936130342905414, -1.8150188714762709},
                           {0.85796039001719626, -1.8222226644601063}}},
        {true, 0, 0, {{0.89949623867609496, -1.8994962285750878}, {0.98912018232767107, -1.9239283764265755},
                      {0.96716754596376564, -2.0131402247658436}}},
        {true, 0, 0.1, {{0.89949623530909284, -1.8994962268915865}, {0.98314590583457229, -1.9045417937797651},
                        {0.9525266206877373, -1.9881472711042472}}},
        {true, 0.9, 0, {{0.89949623867609496, -1.8994962285750878}, {0.89866679713615649, -1.8334749821441547},
                        {0.87596766338630649, -1.8632677086955829}}},
        {true, 0.9, 0.1, {{0.89949623530909284, -1.8994962268915865}, {0.89269251761275592, -1.8140883979821929},
                          {0.85667317086818651, -1.8209530905853819}}},
    };
    static const real grads[3][2] = {{0.5, -1.0}, {-1.0, 0.25}, {0.25, 2.0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        real p[2] = {1, -2}, v[2] = {0}, gavg[2] = {0}, buf[2] = {0};
        for (int t = 0; t < 3; t++) {
            rmsprop_update(p, grads[t], v, cases[c].centered ? gavg : NULL, cases[c].momentum > 0 ? buf : NULL, 2, 0.01,
                           0.99, 1e-8, cases[c].weight_decay, cases[c].momentum);
            for (int i = 0; i < 2; i++)
                cr_expect_float_eq(p[i], cases[c].want[t][i], 1e-14, "centered %d momentum %g weight_decay %g step %d: %.17g",
                                   cases[c].centered, cases[c].momentum, cases[c].weight_decay, t + 1, p[i]);
        }
    }
}

Test(optim, softplus_is_stable) {
    cr_expect_float_eq(softplus(0), 0.6931471805599453, 1e-15);
    cr_expect_float_eq(softplus(800), 800, 1e-12);
    cr_expect_float_eq(softplus(-800), 0, 1e-300);
    cr_expect_float_eq(softplus(-30), 9.357622968839299e-14, 1e-25);
}
