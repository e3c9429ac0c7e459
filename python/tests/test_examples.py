"""examples/python_task_loop.py is 05_task_loop.c in Python: the two print
the same lines, digit for digit (the same seeds give the same numbers)."""
import os
import subprocess
import sys

import pytest

import rnnplast as rp

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def test_python_task_loop_prints_what_the_c_example_prints():
    c_exe = os.path.join(os.path.dirname(rp.library_path), "examples", "05_task_loop")
    if not os.access(c_exe, os.X_OK):
        pytest.skip("%s not built (make examples)" % c_exe)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(rp.__file__)))
    py = subprocess.run([sys.executable, os.path.join(TOP, "examples", "python_task_loop.py")],
                        capture_output=True, text=True, env=env, timeout=120)
    c = subprocess.run([c_exe], capture_output=True, text=True, timeout=120)
    assert py.returncode == 0, py.stderr
    assert c.returncode == 0, c.stderr
    assert py.stdout.count("\n") == 4
    assert py.stdout == c.stdout
