# Uses the package's declarations from other modules.
from cpython.ref cimport Py_XDECREF
from pkg.capi cimport PyObject_Repr, PyUnicode_GetLength
from pkg.nodes cimport Node, check_depth


# BUG: check_depth may raise (its `except -1` is in nodes.pxd): the repr
# leaks then.
def summary(Node node, int limit):
    cdef PyObject* text = PyObject_Repr(node)
    if text == NULL:
        raise ValueError("no repr")
    check_depth(node, limit)
    n = PyUnicode_GetLength(text)
    Py_XDECREF(text)
    return n


def summary_fixed(Node node, int limit):
    check_depth(node, limit)
    cdef PyObject* text = PyObject_Repr(node)
    if text == NULL:
        raise ValueError("no repr")
    try:
        return PyUnicode_GetLength(text)
    finally:
        Py_XDECREF(text)


# The payload attribute is an `object` (nodes.pxd): storing into it is
# Cython's business, no raw pointer.
def replace_payload(Node node, value):
    node.payload = value
    return node.payload
