# Node's attributes and methods are declared in nodes.pxd; PyObject_Repr's
# ownership in capi.pxd; helpers come from _walk.pxi.
from cpython.ref cimport Py_XDECREF
from pkg.capi cimport PyObject_Repr, PyUnicode_GetLength

include "_walk.pxi"


cdef class Node:
    def __cinit__(self, payload):
        self.payload = payload
        self.label = NULL

    def __dealloc__(self):
        Py_XDECREF(self.label)

    cdef int relabel(self) except -1:
        cdef PyObject* text = PyObject_Repr(self.payload)
        if text == NULL:
            return -1
        Py_XDECREF(self.label)
        self.label = text
        return 0

    # BUG: the repr is never released (a new reference, per capi.pxd).
    def label_length(self):
        cdef PyObject* text = PyObject_Repr(self.payload)
        if text == NULL:
            raise ValueError("no repr")
        return PyUnicode_GetLength(text)

    def label_length_fixed(self):
        cdef PyObject* text = PyObject_Repr(self.payload)
        if text == NULL:
            raise ValueError("no repr")
        try:
            return PyUnicode_GetLength(text)
        finally:
            Py_XDECREF(text)


cdef int check_depth(Node node, int limit) except -1:
    if limit < 0:
        raise RecursionError("too deep")
    return 0
