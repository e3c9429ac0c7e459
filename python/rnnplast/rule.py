"""Rule: learning rules (rp_rule_*) and their online streams."""

import operator

import numpy as np

from . import _enums
from ._errors import UnsupportedError, closed, error
from ._lib import ffi, lib
from ._util import (DOUBLES, MSGLEN, NULL, Handle, check, from_buffer, in_ptr, make_msg,
                    out_ptr, since, step_ptr, to_f64)

_last_error = lib.rp_rule_last_error
_rule_step = lib.rp_rule_step
_net_step = lib.rp_net_step
_net_last_error = lib.rp_net_last_error
_empty = np.empty


def kind_name(kind):
    """rp_rule_kind_name: the C library's name of rule value ``kind``."""
    p = lib.rp_rule_kind_name(kind)
    return None if p == NULL else ffi.string(p).decode()


class Rule(Handle):
    """A learning rule for ``net`` (rp_rule_create): ``kind`` "bptt",
    "tbptt", "rtrl", "eprop", "rflo" or "modprop".  ``loss`` "mse" or "ce"
    (rp_rule_set_loss); ``feedback`` "symmetric" or "random" with
    ``feedback_seed`` (rp_rule_set_feedback); ``truncation`` K of TBPTT
    (rp_rule_set_truncation); ``cell_types`` (rp_rule_set_cell_types) and
    ``mu`` (rp_rule_set_modprop_mu) of "modprop"
    (librnnplast >= 1.1); ``online_block`` K (rp_rule_set_online_block,
    librnnplast >= 1.2).  The rule keeps ``net`` alive and works on it."""

    def __init__(self, net, kind, loss=None, feedback=None, feedback_seed=1, truncation=None,
                 cell_types=None, mu=None, online_block=None):
        out = ffi.new("rp_rule **")
        msg = make_msg()
        k = _enums.rule_kind.value(kind, "kind")
        st = lib.rp_rule_create(out, net._handle(), k, msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._adopt(out[0], net, k, "mse")
        if loss is not None:
            self.loss = loss
        if feedback is not None:
            self.set_feedback(feedback, feedback_seed)
        if truncation is not None:
            self.set_truncation(truncation)
        if cell_types is not None:
            self.set_cell_types(cell_types)
        if mu is not None:
            self.set_modprop_mu(mu)
        if online_block is not None:
            self.online_block = online_block

    @classmethod
    def _wrap(cls, ptr, net):
        # a rule the library made (rp_checkpoint_load): what it is, from C
        self = cls.__new__(cls)
        self._adopt(ptr, net, 0, "mse")
        h = self._h
        kind, loss = ffi.new("rp_rule_kind *"), ffi.new("rp_loss *")
        check(since(lambda: lib.rp_rule_get_kind, "1.1")(h, kind, loss), h, _last_error)
        self._kind, self._loss = kind[0], _enums.loss.name(loss[0])
        return self

    @property
    def streaming(self):
        """Whether an online stream is open (rp_rule_get_streaming)."""
        h = self._handle()
        on = ffi.new("int *")
        check(since(lambda: lib.rp_rule_get_streaming, "1.1")(h, on), h, _last_error)
        return bool(on[0])

    def _get_online_block(self):
        h = self._handle()
        K, pending = ffi.new("size_t *"), ffi.new("size_t *")
        check(since(lambda: lib.rp_rule_get_online_block, "1.2")(h, K, pending), h, _last_error)
        return K[0], pending[0]

    @property
    def online_block(self):
        """The online block K: the online gradient is added every K ticks
        with one GEMM per parameter (rp_rule_get_online_block; set:
        rp_rule_set_online_block; 1, the default, adds every tick;
        librnnplast >= 1.2)."""
        return self._get_online_block()[0]

    @online_block.setter
    def online_block(self, K):
        fn = since(lambda: lib.rp_rule_set_online_block, "1.2")
        h = self._handle()
        check(fn(h, operator.index(K)), h, _last_error)

    @property
    def pending_ticks(self):
        """Ticks stored in the online block, not yet in a grad
        (rp_rule_get_online_block)."""
        return self._get_online_block()[1]

    def flush(self, grad):
        """rp_rule_flush: add the ticks pending in the online block into
        ``grad`` (a Grad), which is then complete."""
        fn = since(lambda: lib.rp_rule_flush, "1.2")
        h = self._handle()
        check(fn(h, grad._handle()), h, _last_error)

    def _adopt(self, ptr, net, kind, loss):
        self._own(ptr, lib.rp_rule_free)
        self._net = net
        self._kind = kind
        self._loss = loss
        self._stream = None

    @property
    def net(self):
        """The Net this rule serves."""
        return self._net

    @property
    def kind(self):
        """The rule's name (rp_rule_kind_name)."""
        return kind_name(self._kind)

    @property
    def loss(self):
        """"mse" or "ce" (set: rp_rule_set_loss)."""
        return self._loss

    @loss.setter
    def loss(self, loss):
        h = self._handle()
        check(lib.rp_rule_set_loss(h, _enums.loss.value(loss, "loss")), h, _last_error)
        self._loss = loss

    def set_feedback(self, kind, seed=1):
        """rp_rule_set_feedback: "symmetric" (V^T) or "random" from ``seed``."""
        h = self._handle()
        check(lib.rp_rule_set_feedback(h, _enums.feedback.value(kind, "feedback"), seed), h,
              _last_error)

    @property
    def feedback_matrix(self):
        """The feedback matrix B_fb in use, (n_rec, n_out)
        (rp_rule_get_feedback_matrix; set: rp_rule_set_feedback_matrix)."""
        h = self._handle()
        net = self._net
        out, p = out_ptr(None, (net._n_rec, net._n_out))
        check(lib.rp_rule_get_feedback_matrix(h, net._handle(), p, out.size), h, _last_error)
        return out

    @feedback_matrix.setter
    def feedback_matrix(self, B):
        h = self._handle()
        net = self._net
        a, p = in_ptr(B, (net._n_rec, net._n_out), "feedback_matrix")
        check(lib.rp_rule_set_feedback_matrix(h, p, a.size), h, _last_error)

    def set_truncation(self, K):
        """rp_rule_set_truncation: the window K of TBPTT."""
        h = self._handle()
        check(lib.rp_rule_set_truncation(h, K), h, _last_error)

    def set_cell_types(self, types):
        """rp_rule_set_cell_types (ModProp, librnnplast >= 1.1): the type
        (an integer in [0, n_rec)) of each of the n_rec units."""
        fn = since(lambda: lib.rp_rule_set_cell_types, "1.1")
        h = self._handle()
        types = [operator.index(t) for t in types]  # TypeError for a non-integer (2.5)
        if any(t < 0 for t in types):
            raise ValueError("cell types must be >= 0")
        c = ffi.new("unsigned[]", types)
        check(fn(h, c, len(types)), h, _last_error)

    def set_modprop_mu(self, mu):
        """rp_rule_set_modprop_mu (ModProp, librnnplast >= 1.1): the constant
        mu replacing f' in the credit across the recurrent weights."""
        fn = since(lambda: lib.rp_rule_set_modprop_mu, "1.1")
        h = self._handle()
        check(fn(h, mu), h, _last_error)

    def _target_shape(self, lead):
        net = self._net
        return lead if self._loss == "ce" else lead + (net._n_out,)

    def trial(self, X, target, mask=None, grad=None):
        """rp_rule_trial: a batch of trials from the initial state; X (T,
        batch, n_in), target (T, batch, n_out) for MSE or (T, batch) class
        indices for CE, mask (T, batch) or None.  Adds the gradient into
        ``grad`` (a Grad; None: a scratch one, discarded) and returns the
        loss.  The GIL is released during the call."""
        h = self._handle()
        net = self._net
        nh = net._handle()
        target = to_f64(target, "target")
        if target.ndim < 2:
            raise ValueError("target has shape %s, expected (T, batch, ...)" % (target.shape,))
        T = target.shape[0]
        lead = (T, net._B)
        _, pt = in_ptr(target, self._target_shape(lead), "target")
        if X is None and net._n_in == 0:
            px = NULL
        else:
            _, px = in_ptr(X, lead + (net._n_in,), "X")
        pm = NULL if mask is None else in_ptr(mask, lead, "mask")[1]
        if grad is None:
            from .grad import Grad
            grad = Grad(net)
        loss = ffi.new("double *")
        check(lib.rp_rule_trial(h, nh, T, px, pt, pm, grad._handle(), loss), h, _last_error)
        return loss[0]

    def stream(self, grad=None):
        """rp_rule_begin: open an online stream on the net's live state and
        return it (a context manager whose exit calls rp_rule_end).  Each
        Stream.step() follows one net.step() with the same input."""
        s = Stream(self, grad)
        s.begin()
        return s

    def begin(self):
        """rp_rule_begin (prefer stream())."""
        h = self._handle()
        check(lib.rp_rule_begin(h, self._net._handle()), h, _last_error)

    def end(self):
        """rp_rule_end: close the stream; returns its mean per-step loss."""
        h = self._handle()
        loss = ffi.new("double *")
        check(lib.rp_rule_end(h, loss), h, _last_error)
        return loss[0]

    @property
    def last_error(self):
        """rp_rule_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()

    def __repr__(self):
        return "<rnnplast.Rule %s loss=%s%s>" % (self.kind, self._loss,
                                                 " closed" if self._h is None else "")


class Stream:
    """An online stream of a Rule (rp_rule_begin ... rp_rule_end).  ``loss``
    is the mean per-step loss once ended; ``grad`` the Grad that step()
    adds into when it is given none."""

    def __init__(self, rule, grad=None):
        self.rule = rule
        self.net = rule._net
        self.grad = grad
        self.loss = None
        self.open = False
        self._io = (NULL, NULL, NULL)  # advance() before begin: C says the stream is not open

    def begin(self):
        """rp_rule_begin: (re)start the stream on the net's live state."""
        self.rule.begin()
        return self._resume()

    def _resume(self):
        # the stream is open in C (begun here, or loaded from a checkpoint)
        self.open = True
        self.loss = None
        net = self.net
        self._xshape = net._xshape
        self._tshape = (net._B,) if self.rule._loss == "ce" else net._yshape
        self._mshape = (net._B,)
        self._yshape = net._yshape
        # the arrays of advance(), and their pointers
        self.x, self.target, self.y = (np.zeros(self._xshape), np.zeros(self._tshape),
                                       np.zeros(self._yshape))
        self._io = (from_buffer(DOUBLES, self.x) if net._n_in else NULL,
                    from_buffer(DOUBLES, self.target),
                    from_buffer(DOUBLES, self.y, require_writable=True))
        return self

    def step(self, x, target, mask=None, grad=None):
        """rp_rule_step: after net.step(x), with the same x (batch, n_in),
        target (batch, n_out) (MSE) or (batch,) class indices (CE), mask
        (batch,) or None; adds this step's gradient into ``grad`` (default:
        the stream's ``grad``, a Grad of the net made on first use)."""
        self._rule_step(self._x_ptr(x)[1], target, mask, grad)

    def tick(self, x, target, mask=None, grad=None, out=None):
        """net.step(x, out) then step(x, target, mask, grad) in one call
        (rp_net_step, rp_rule_step): the simulator's loop body, with the
        Python overhead of one call.  Returns y (batch, n_out).  Every
        argument is checked before the net steps; a failure of the rule's
        step itself (a NaN target, found by the library) leaves the net one
        step on, as the two C calls would."""
        x, px = self._x_ptr(x)
        self._check_open()
        nh = self.net._h
        if out is None:
            out = _empty(self._yshape)
            py = from_buffer(DOUBLES, out)
        else:
            out, py = out_ptr(out, self._yshape)
        pt, pm, gh = self._rule_args(target, mask, grad)
        st = _net_step(nh, px, py)
        if st:
            raise error(st, _net_last_error(nh))
        self._call_rule_step(px, pt, pm, gh)
        return out

    def advance(self, mask=None):
        """tick() on the stream's own arrays, for the tightest simulator
        loop: write the step's input into ``s.x`` (batch, n_in) and its
        target into ``s.target`` in place (``s.x[:] = ...``), then call
        ``s.advance()``; the output lands in ``s.y`` (returned, overwritten
        by the next call) and the gradient in ``s.grad`` (made on first use).
        The arrays and their C pointers are made when the stream begins, so
        a step costs two C calls and no conversion.  ``mask`` (batch,) as in
        step()."""
        if self.rule._h is None or self.net._h is None:
            raise closed(self.rule if self.rule._h is None else self.net)
        self._check_open()
        px, pt, py = self._io
        _, pm, gh = self._rule_args(None, mask, self.grad, pt)
        nh = self.net._h
        st = _net_step(nh, px, py)
        if st:
            raise error(st, _net_last_error(nh))
        self._call_rule_step(px, pt, pm, gh)
        return self.y

    def _x_ptr(self, x):
        # (x, double *) for a step's input, after checking nothing is closed
        if self.rule._h is None:
            raise closed(self.rule)
        if self.net._h is None:
            raise closed(self.net)
        if x is None and self.net._n_in == 0:
            return x, NULL
        return step_ptr(x, self._xshape)

    def _rule_step(self, px, target, mask, grad):
        self._call_rule_step(px, *self._rule_args(target, mask, grad))

    def _check_open(self):
        # tick and advance: before the net steps (C would refuse the rule's
        # step only after it)
        if not self.open:
            raise error(lib.RP_ERR_STATE, "the stream is not open: begin() it first")

    def _rule_args(self, target, mask, grad, pt=None):
        # (target, mask, grad) pointers of a rule step (pt: target's, if
        # made already); tick and advance take them before the net steps
        if pt is None:
            pt = step_ptr(target, self._tshape, "target")[1]
        pm = NULL if mask is None else in_ptr(mask, self._mshape, "mask")[1]
        if grad is None:
            grad = self.grad
            if grad is None:
                from .grad import Grad
                grad = self.grad = Grad(self.net)
        gh = grad._h
        if gh is None:
            raise closed(grad)
        return pt, pm, gh

    def _call_rule_step(self, px, pt, pm, gh):
        h = self.rule._h
        st = _rule_step(h, self.net._h, px, pt, pm, gh)
        if st:
            raise error(st, _last_error(h))

    def flush(self, grad=None):
        """rp_rule_flush into ``grad`` (default: the stream's ``grad``): the
        ticks pending in the rule's online block (Rule.online_block)."""
        if grad is None:
            grad = self.grad
            if grad is None:
                raise ValueError("the stream has no grad: pass the one its steps named")
        self.rule.flush(grad)

    def end(self):
        """rp_rule_end: close the stream; returns (and keeps in ``loss``)
        the mean per-step loss.  With an online block (Rule.online_block >
        1) and a stream ``grad``, the pending ticks are flushed into it
        first (rp_rule_flush); without one, flush() them before."""
        if self.grad is not None:
            try:
                pending = self.rule.pending_ticks
            except UnsupportedError:  # librnnplast < 1.2: no block
                pending = 0
            if pending:
                self.flush()
        self.loss = self.rule.end()
        self.open = False
        return self.loss

    def __enter__(self):
        """The stream itself (already begun)."""
        return self

    def __exit__(self, exc_type, exc, tb):
        """rp_rule_end if still open (an error from it is dropped when the
        block already raised)."""
        if self.open:
            if exc_type is None:
                self.end()
            else:  # close it, but let the original exception through
                try:
                    self.end()
                except Exception:
                    pass
        return False
