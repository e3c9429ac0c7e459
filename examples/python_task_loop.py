#!/usr/bin/python3
"""05_task_loop.c in Python: e-prop learns the perceptual decision task (2af)
from a Gaussian initialization with gain g = 1.5.  It prints the same lines
as the C program, digit for digit (python/tests/test_examples.py checks it).

    make python && PYTHONPATH=build/python /usr/bin/python3 examples/python_task_loop.py
"""
import sys

import rnnplast as rp

task = rp.Task("2af")                                   # x, targets, masks from a seed
B = 16
net = rp.Net(n_in=task.n_in, n_out=task.n_out, batch=B)  # voltage form, relu, alpha 0.9
rp.Init("gaussian", gain=1.5).apply(net, "W", seed=42)  # the study sweeps g
unit = rp.Init("gaussian", gain=1.0)
unit.apply(net, "U", seed=43)
unit.apply(net, "V", seed=44)
rule = rp.Rule(net, "eprop", loss=task.loss)            # or bptt, tbptt, rtrl, rflo
opt = rp.Optim(net, "adam", lr=3e-3)
g = rp.Grad(net)
for it in range(301):
    X, target, mask = task.sample(batch=B, seed=it)
    g.zero()
    loss = rule.trial(X, target, mask=mask, grad=g)     # task -> net -> rule -> grad
    opt.step(g)                                         # grad -> optimizer -> net
    if it % 100 == 0:                                   # score fresh trials, run forward
        X, target, mask = task.sample(batch=B, seed=1000000 + it)
        net.reset()
        _, acc = task.score(net.run(X), target, mask)
        print("iteration %3d  training loss %.4f  test accuracy %.2f" % (it, loss, acc))
sys.exit(0 if acc > 0.6 else 1)                         # chance is 0.5
