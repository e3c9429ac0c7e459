COMMENT
RnnClamp: injects a current set by a network output into its section,
i = offset + amp * src (nA, positive depolarizes, as IClamp), where src is a
POINTER to an RnnLearner's output:
    h.setpointer(learner._ref_y[k], 'src', clamp)
Put the learner in the same section (or cell) so both live in one thread.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS RnnClamp
    RANGE amp, offset, i
    ELECTRODE_CURRENT i
    POINTER src
}

UNITS {
    (nA) = (nanoamp)
}

PARAMETER {
    amp = 1 (nA)
    offset = 0 (nA)
}

ASSIGNED {
    i (nA)
    src
}

BREAKPOINT {
    i = offset + amp * src
}
