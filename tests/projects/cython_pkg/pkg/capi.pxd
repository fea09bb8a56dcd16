# C-API functions the package declares itself, with their ownership.
from cpython.object cimport PyObject

cdef extern from "Python.h":
    PyObject* PyObject_Repr(object o)  # refsan: returns new
    Py_ssize_t PyUnicode_GetLength(PyObject* s) except -1
