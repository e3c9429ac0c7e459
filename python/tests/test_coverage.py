"""Every C call is bound: each function the cdef declares is referenced as
``lib.<name>`` in the package's code (not merely named in a docstring), and
every enum of the cdef has its strings.  A new C call or enum without a
Python binding fails here.
Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests/test_coverage.py"""

import ast
import os

import cffi
import pytest

import rnnplast
from rnnplast import _enums, _lib

PKG = os.path.dirname(rnnplast.__file__)


def declared():
    ffi = cffi.FFI()
    ffi.cdef(_lib._cdef)
    decl = ffi._parser._declarations
    funcs = {k.split(" ", 1)[1] for k in decl if k.startswith("function ")}
    enums = {k.split(" ", 1)[1] for k in decl if k.startswith("enum ")}
    return funcs, enums


def referenced(optional_only=False):
    """Names used as lib.<name> in the package's code; with optional_only,
    those reached through since(lambda: lib.<name>, version) only: calls of
    a later librnnplast, which may be absent from an older cdef."""
    names = set()
    optional = set()
    for fn in sorted(os.listdir(PKG)):
        if not fn.endswith(".py"):
            continue
        with open(os.path.join(PKG, fn)) as f:
            tree = ast.parse(f.read(), fn)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "lib":
                names.add(node.attr)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "since" \
                    and isinstance(node.args[0], ast.Lambda):
                body = node.args[0].body
                if isinstance(body, ast.Attribute) and getattr(body.value, "id", None) == "lib":
                    optional.add(body.attr)
    return optional if optional_only else names


def test_every_function_is_bound():
    funcs, _ = declared()
    assert len(funcs) >= 100
    missing = sorted(funcs - referenced())
    assert not missing, "C calls without a Python binding: %s" % missing


def test_bound_names_exist():
    # the reverse: every lib.<name> the package uses resolves in the library,
    # but for calls of a later version reached through since()
    optional = referenced(optional_only=True)
    for name in sorted(referenced() - optional):
        getattr(rnnplast.lib, name)
    funcs, _ = declared()
    for name in sorted(optional - funcs):
        with pytest.raises(rnnplast.UnsupportedError, match=name):
            rnnplast._util.since(lambda: getattr(rnnplast.lib, name), "9.9")


def test_every_enum_has_strings():
    _, enums = declared()
    missing = sorted(enums - set(_enums.ENUMS) - {"rp_status"})
    assert not missing, "C enums without Python strings (add the prefix in _enums.py): %s" % missing
    for e, en in _enums.ENUMS.items():
        values = set(rnnplast.ffi.typeof(e).elements)
        assert set(en.to_name) == values, e  # every constant, each with its own string
        assert len(set(en.names)) == len(values), e


@pytest.mark.parametrize("enum, fn", [("rp_rule_kind", "rp_rule_kind_name"),
                                      ("rp_task_kind", "rp_task_kind_name")])
def test_enum_strings_are_the_c_names(enum, fn):
    # the C library's own names (an independent source) equal the derived strings
    for value, name in _enums.ENUMS[enum].to_name.items():
        p = getattr(rnnplast.lib, fn)(value)
        assert rnnplast.ffi.string(p).decode() == name


def test_contract_strings():
    # the names PYTHON.md lists
    n = rnnplast.enum_names()
    assert n["rp_param"] == ("W", "U", "b", "V", "c")
    for s in ("voltage", "rate"):
        assert s in n["rp_form"]
    for s in ("relu", "tanh", "linear"):
        assert s in n["rp_activation"]
    for s in ("bptt", "tbptt", "rtrl", "eprop", "rflo"):
        assert s in n["rp_rule_kind"]
    for s in ("2af", "dms"):
        assert s in n["rp_task_kind"]
    assert set(n["rp_floss_mode"]) >= {"exact", "local"}
    assert set(n["rp_init_kind"]) >= {"gaussian", "orthogonal"}
    assert set(n["rp_optim_kind"]) == {"sgd", "adam"}
    assert set(n["rp_feedback"]) == {"symmetric", "random"}
    assert set(n["rp_loss"]) == {"mse", "ce"}


def test_every_status_has_its_exception():
    names = dict(rnnplast.ffi.typeof("rp_status").elements)
    for code, name in names.items():
        if name in ("RP_OK", "RP_STATUS_COUNT_"):
            continue
        e = rnnplast._errors.error(code, "m")
        assert e.status == name and e.code == code
        assert type(e) is not rnnplast.Error, "%s has no subclass of its own" % name
