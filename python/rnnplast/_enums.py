"""Enums as lowercase strings, derived from the cdef's enum constants: the
constant's tail after its enum's prefix (RP_RULE_EPROP -> "eprop",
RP_TASK_2AF -> "2af").  A value added to a C enum appears here without a
Python change.  Parameters keep the case of MODEL.md: matrices "W", "U",
"V", vectors "b", "c"."""

from ._lib import ffi

# enum type -> prefix of its constants (rnnplast.h)
_PREFIX = {
    "rp_form": "RP_FORM_",
    "rp_activation": "RP_ACT_",
    "rp_param": "RP_PARAM_",
    "rp_loss": "RP_LOSS_",
    "rp_feedback": "RP_FEEDBACK_",
    "rp_init_kind": "RP_INIT_",
    "rp_rule_kind": "RP_RULE_",
    "rp_optim_kind": "RP_OPTIM_",
    "rp_floss_mode": "RP_FLOSS_",
    "rp_floss_schedule_kind": "RP_FLOSS_SCHED_",
    "rp_task_kind": "RP_TASK_",
    "rp_precision": "RP_PRECISION_",
}


def _name(enum, const):
    tail = const[len(_PREFIX[enum]):]
    if enum == "rp_param" and tail in ("W", "U", "V"):
        return tail
    return tail.lower()


class Enum:
    """One C enum: ``value(name)`` and ``name(value)``."""

    def __init__(self, enum):
        self.enum = enum
        elements = ffi.typeof(enum).elements
        self.to_value = {_name(enum, c): v for v, c in elements.items()}
        self.to_name = {v: n for n, v in self.to_value.items()}
        self.names = tuple(sorted(self.to_value, key=self.to_value.get))

    def value(self, name, what=None):
        """The C value of ``name``; ValueError listing the valid names."""
        try:
            return self.to_value[name]
        except (KeyError, TypeError):
            raise ValueError("%s must be one of %s, not %r"
                             % (what or self.enum, ", ".join(repr(n) for n in self.names), name)) from None

    def name(self, value):
        """The string of C value ``value`` (the number itself if unknown)."""
        return self.to_name.get(value, value)


ENUMS = {e: Enum(e) for e in _PREFIX}
form = ENUMS["rp_form"]
activation = ENUMS["rp_activation"]
param = ENUMS["rp_param"]
loss = ENUMS["rp_loss"]
feedback = ENUMS["rp_feedback"]
init_kind = ENUMS["rp_init_kind"]
rule_kind = ENUMS["rp_rule_kind"]
optim_kind = ENUMS["rp_optim_kind"]
floss_mode = ENUMS["rp_floss_mode"]
floss_schedule_kind = ENUMS["rp_floss_schedule_kind"]
task_kind = ENUMS["rp_task_kind"]


def names():
    """Every enum's valid strings, by C enum type name."""
    return {e: en.names for e, en in ENUMS.items()}
