# cython: language_level=3
# The seed article's "Scenario 2: Handling a new reference", as printed:
# create_new_item() returns a new reference, and <object>c_obj_new takes
# ANOTHER one, so one list leaks per call.
from cpython.object cimport PyObject

cdef extern from "seed_items.h":
    PyObject* create_new_item() nogil          # Returns new ref

def interact_with_c_lib():
    cdef PyObject* c_obj_new
    cdef object py_obj_managed_new

    c_obj_new = create_new_item()
    if c_obj_new == NULL:
        raise MemoryError("Failed to create new C item")
    py_obj_managed_new = <object>c_obj_new
    return len(py_obj_managed_new)
