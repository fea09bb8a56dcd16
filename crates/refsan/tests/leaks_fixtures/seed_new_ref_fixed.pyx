# cython: language_level=3
# Scenario 2 corrected: the cast's extra reference is balanced by releasing
# the one create_new_item() returned.
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF

cdef extern from "seed_items.h":
    PyObject* create_new_item() nogil          # Returns new ref

def interact_with_c_lib():
    cdef PyObject* c_obj_new
    cdef object py_obj_managed_new

    c_obj_new = create_new_item()
    if c_obj_new == NULL:
        raise MemoryError("Failed to create new C item")
    py_obj_managed_new = <object>c_obj_new
    Py_XDECREF(c_obj_new)
    return len(py_obj_managed_new)
