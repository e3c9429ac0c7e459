"""Brian2 bridge: a :class:`rnnplast.Net` inside a Brian2 simulation.

``import rnnplast.brian2`` needs Brian2 (Debian ``python3-brian``); plain
``import rnnplast`` never imports it.

A :class:`Bridge` is a Brian2 ``NetworkOperation`` that runs every ``dt``
(the RNN's step dt_r) and, at each tick:

1. reads the inputs: the values of NeuronGroup variables (rates, traces,
   voltages) and/or the spike counts of ``SpikeMonitor`` s over the last tick,
   concatenated into the Net's ``x`` (1, n_in), times ``input_scale``;
2. steps the Net: ``y = net.step(x)``;
3. writes ``y * output_scale`` into a group's variable (e.g. an injected
   current ``I``; one value per neuron, or one output broadcast to all);
4. when learning: one online step of the rule's stream against the target
   at this tick (``Rule.stream`` = rp_rule_begin / rp_rule_step /
   rp_rule_end), and an optimizer step every ``update_every`` ticks.

It runs in the ``'start'`` slot by default: the Net sees the state at the
beginning of Brian2's time step and its output acts during that step.

Units: values are read and written in Brian2's SI base units without
their unit (as ``G.v_``, ``G.I_``); a scale given as a Quantity
(``output_scale=0.5*nA``) is taken in base units (amp).  With ``tau`` the
Net's leak is set to ``alpha = 1 - dt/tau`` (MODEL.md §1).

Usage::

    import numpy as np, brian2 as b2, rnnplast as rp
    from rnnplast.brian2 import Bridge

    b2.defaultclock.dt = 1 * b2.ms
    cells = b2.PoissonGroup(20, rates="(40 + 30*sin(2*pi*2*Hz*t + i))*Hz")
    spikes = b2.SpikeMonitor(cells, record=False)          # counts only
    post = b2.NeuronGroup(1, "dv/dt = (I - v)/(10*ms) : 1\\nI : 1",
                          method="exact")
    net = rp.Net(n_in=20, n_rec=64, n_out=1, batch=1, seed=1)
    rule = rp.Rule(net, "eprop")
    bridge = Bridge(net, inputs=spikes, output=(post, "I"), dt=1 * b2.ms,
                    tau=10 * b2.ms, target=lambda t: np.sin(2 * np.pi * 2 * t),
                    rule=rule, optim=rp.Optim(net, "adam", lr=1e-3))
    b2.run(5 * b2.second)                 # learns online
    bridge.learning = False                # ends the stream (bridge.losses)
    b2.run(1 * b2.second)                  # test: bridge.y, bridge.t recorded

Library errors raised inside the operation (e.g. ``NonFiniteError`` for a
NaN input) propagate out of ``run()`` unchanged, as ``rnnplast.Error``.
"""

import numpy as np
from brian2 import NetworkOperation, SpikeMonitor
from brian2.core.variables import Subexpression
from brian2.groups.subgroup import Subgroup

from ._errors import Error

__all__ = ["Bridge", "Error"]  # Error re-exported for users' except clauses


def _seconds(q, name):
    """A Brian2 time (or a float in seconds) as a float in seconds."""
    v = float(np.asarray(q, dtype=float))
    if not v > 0:
        raise ValueError("%s must be > 0, got %r" % (name, q))
    return v


def _array_of(group, var, write=False):
    """(live numpy array, slice) of ``group``'s variable ``var``: the array
    Brian2's runtime targets (numpy, cython) compute on, so reads see the
    current values and writes act on the simulation.  (None, slice) for a
    subexpression, which is read through ``group.state`` instead."""
    if var not in group.variables:
        raise ValueError("%s has no variable %r" % (group.name, var))
    v = group.variables[var]
    sub = isinstance(v, Subexpression)
    if write and (sub or v.read_only or getattr(v, "constant", False)):
        raise ValueError("%s.%s is read-only, constant or a subexpression; the bridge writes "
                         "into it" % (group.name, var))
    if sub:
        return None, slice(0, len(group))
    arr = v.get_value()
    if not isinstance(arr, np.ndarray) or arr.ndim != 1 or v.scalar:
        raise ValueError("%s.%s is not a per-neuron array variable" % (group.name, var))
    sl = slice(group.start, group.stop) if isinstance(group, Subgroup) else slice(0, arr.shape[0])
    return arr, sl


class _VarInput:
    """A group variable's current values."""

    def __init__(self, group, var):
        self.arr, self.sl = _array_of(group, var)
        self.size = self.sl.stop - self.sl.start
        self.name = "%s.%s" % (group.name, var)
        self.group, self.var = group, var

    def read(self, out):
        if self.arr is None:  # a subexpression, evaluated by Brian2
            out[:] = self.group.state(self.var, use_units=False)
        else:
            out[:] = self.arr[self.sl]


class _SpikeCountInput:
    """Spikes per neuron of a SpikeMonitor's source since the last tick."""

    def __init__(self, mon):
        self.count = mon.variables["count"].get_value()
        self.size = self.count.shape[0]
        self.last = None
        self.name = "%s.count" % mon.name

    def read(self, out):
        if self.last is None:  # counts before the bridge's first tick are not this tick's
            self.last = self.count.copy()
        np.subtract(self.count, self.last, out=out)
        self.last[:] = self.count


class Bridge(NetworkOperation):
    """A Net stepped by Brian2 every ``dt``, optionally learning online.

    Parameters
    ----------
    net : rnnplast.Net
        The network, with batch 1 (a Brian2 run is one trajectory).
    inputs : source or list of sources
        Each source is ``(group, "var")`` (that variable's values, one per
        neuron) or a ``SpikeMonitor`` (its source's spike counts during the
        last tick; ``record=False`` keeps only counts).  Concatenated in
        order, they must give ``net.n_in`` values.  ``None`` for n_in = 0.
    output : (group, "var") or None
        Where ``y * output_scale`` is written each tick: the group has
        n_out neurons, or n_out is 1 and the value goes to every neuron.
        The variable must be writable (not a constant or read-only).
    dt : Brian2 time, optional
        The RNN's step dt_r (default: Brian2's ``defaultclock.dt``).
    tau : Brian2 time, optional
        The RNN's time constant: sets ``net.alpha = 1 - dt/tau`` (needs
        dt < tau).  Without it the Net's own alpha is kept.
    input_scale, output_scale : float, array or Quantity
        Multiply the inputs (n_in,) and outputs (n_out,).
    target : callable or array, optional
        The output's target: ``target(t)`` with t in seconds (float)
        returning n_out values, or an array (K, n_out) (or (K,) for
        n_out = 1) whose row k is the target at t = k * dt.
    rule : rnnplast.Rule, optional
        An online rule of ``net`` ("eprop", "rflo", "rtrl"); learning needs
        it and ``target``.
    optim : rnnplast.Optim, optional
        Applies the accumulated gradient every ``update_every`` ticks (and
        zeroes it).  Without it the gradient only accumulates in ``grad``.
    grad : rnnplast.Grad, optional
        The gradient accumulator (default: a new one for ``net``).
    update_every : int
        Ticks per optimizer step (default 1).
    learning : bool
        Start learning at once (default: True when rule and target are given).
    record : bool
        Keep each tick's time and output in ``t`` and ``y`` (default True).
    when, order, name : as for Brian2's NetworkOperation.
    """

    def __init__(self, net, inputs=None, output=None, dt=None, tau=None, input_scale=1.0,
                 output_scale=1.0, target=None, rule=None, optim=None, grad=None,
                 update_every=1, learning=None, record=True, when="start", order=0,
                 name="rnnplast_bridge*"):
        NetworkOperation.__init__(self, self._tick, dt=dt, when=when, order=order, name=name)
        if net.batch != 1:
            raise ValueError("net.batch is %d; a Brian2 bridge steps one trajectory (batch 1)"
                             % net.batch)
        self.net = net
        self.dt_r = _seconds(self.clock.dt, "dt")
        self._clock_t = self.clock.variables["t"].get_value()  # (1,) array, live
        if tau is not None:
            tau_s = _seconds(tau, "tau")
            if self.dt_r >= tau_s:
                raise ValueError("dt = %g s must be below tau = %g s (alpha = 1 - dt/tau >= 0)"
                                 % (self.dt_r, tau_s))
            net.alpha = 1.0 - self.dt_r / tau_s

        if inputs is None:
            inputs = []
        elif isinstance(inputs, (SpikeMonitor, tuple)):
            inputs = [inputs]
        self._inputs = [self._source(s) for s in inputs]
        n = sum(s.size for s in self._inputs)
        if n != net.n_in:
            raise ValueError("the inputs give %d values (%s), net.n_in is %d"
                             % (n, ", ".join(s.name for s in self._inputs) or "none", net.n_in))
        self._x = np.zeros((1, net.n_in))
        self._in_scale = np.broadcast_to(np.asarray(input_scale, dtype=float),
                                         (net.n_in,)).copy()

        self._y = np.zeros((1, net.n_out))
        self._out_scale = np.broadcast_to(np.asarray(output_scale, dtype=float),
                                          (net.n_out,)).copy()
        self._out = None
        if output is not None:
            group, var = output
            arr, sl = _array_of(group, var, write=True)
            size = sl.stop - sl.start
            if size != net.n_out and net.n_out != 1:
                raise ValueError("%s has %d neurons, net.n_out is %d (they must match, or "
                                 "n_out be 1)" % (group.name, size, net.n_out))
            self._out = (arr, sl)

        self._target = None
        if target is not None:
            if callable(target):
                self._target = target
            else:
                a = np.asarray(target, dtype=float)
                if a.ndim == 1 and net.n_out == 1:
                    a = a[:, None]
                if a.ndim != 2 or a.shape[1] != net.n_out:
                    raise ValueError("target has shape %s, expected (K, %d)"
                                     % (np.shape(target), net.n_out))
                self._target = np.ascontiguousarray(a)
        self._tgt = np.zeros((1, net.n_out))

        if rule is not None and rule.net is not net:
            raise ValueError("rule was made for another Net")
        self.rule = rule
        self.optim = optim
        if grad is None and rule is not None:
            from .grad import Grad
            grad = Grad(net)
        self.grad = grad
        if int(update_every) < 1:
            raise ValueError("update_every must be >= 1, got %r" % (update_every,))
        self.update_every = int(update_every)
        self._stream = None
        self._pending = 0
        self.losses = []  # mean per-step loss of each ended stream
        self.record = record
        self._t, self._ys = [], []
        if learning is None:
            learning = rule is not None and target is not None
        self._learning = False
        self.learning = learning

    @staticmethod
    def _source(s):
        if isinstance(s, SpikeMonitor):
            return _SpikeCountInput(s)
        if isinstance(s, tuple) and len(s) == 2:
            return _VarInput(*s)
        raise TypeError("an input is (group, 'var') or a SpikeMonitor, not %r" % (s,))

    @property
    def learning(self):
        """Whether each tick learns.  Setting it False ends the rule's stream
        (its mean loss goes to ``losses``; a partial ``update_every`` window
        is applied); setting it True starts a new stream at the next tick."""
        return self._learning

    @learning.setter
    def learning(self, on):
        on = bool(on)
        if on and (self.rule is None or self._target is None):
            raise ValueError("learning needs a rule and a target")
        if not on:
            self.end()
        self._learning = on

    def end(self):
        """End the open stream, if any; returns its mean per-step loss (or None)."""
        s, self._stream = self._stream, None
        if s is None:
            return None
        if self._pending and self.optim is not None:
            self.optim.step(self.grad)
            self.grad.zero()
        self._pending = 0
        loss = s.end()
        self.losses.append(loss)
        return loss

    def target_at(self, t):
        """The target (n_out,) at time ``t`` (seconds)."""
        tg = self._target
        if callable(tg):
            return np.broadcast_to(np.asarray(tg(t), dtype=float), (self.net.n_out,))
        k = int(round(t / self.dt_r))
        if k >= tg.shape[0]:
            raise ValueError("the target array has %d rows; none for t = %g s (row %d)"
                             % (tg.shape[0], t, k))
        return tg[k]

    @property
    def t(self):
        """Recorded tick times (K,) in seconds."""
        return np.asarray(self._t, dtype=float)

    @property
    def y(self):
        """Recorded outputs (K, n_out), before output_scale."""
        return np.asarray(self._ys, dtype=float).reshape(-1, self.net.n_out)

    def clear_record(self):
        """Forget the recorded times and outputs."""
        self._t, self._ys = [], []

    def _tick(self):
        ts = float(self._clock_t[0])  # the clock's time in seconds
        x = self._x
        if self._inputs:
            i = 0
            row = x[0]
            for s in self._inputs:
                s.read(row[i:i + s.size])
                i += s.size
            row *= self._in_scale
        if self._learning:
            self._tgt[0] = self.target_at(ts)  # before the step: a bad target changes nothing
            if self._stream is None:
                self._stream = self.rule.stream(self.grad)
        y = self.net.step(x, out=self._y)
        if self._out is not None:
            arr, sl = self._out
            arr[sl] = y[0] * self._out_scale
        if self._learning:
            self._stream.step(x, self._tgt, grad=self.grad)
            self._pending += 1
            if self._pending == self.update_every:
                self._pending = 0
                if self.optim is not None:
                    self.optim.step(self.grad)
                    self.grad.zero()
        if self.record:
            self._t.append(ts)
            self._ys.append(y[0].copy())
