# Included by nodes.pyx: PyObject_Repr and PyUnicode_GetLength come from the
# cimports of the including module.

# BUG: check_depth (declared `except -1` in nodes.pxd) may raise after the
# repr was taken: it leaks then.
cdef object describe_node(Node node, int limit):
    cdef PyObject* text = PyObject_Repr(node.payload)
    if text == NULL:
        raise ValueError("no repr")
    check_depth(node, limit)
    n = PyUnicode_GetLength(text)
    Py_XDECREF(text)
    return n


cdef object describe_node_fixed(Node node, int limit):
    check_depth(node, limit)
    cdef PyObject* text = PyObject_Repr(node.payload)
    if text == NULL:
        raise ValueError("no repr")
    try:
        return PyUnicode_GetLength(text)
    finally:
        Py_XDECREF(text)
