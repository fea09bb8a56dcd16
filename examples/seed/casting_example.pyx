# casting_example.pyx
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* get_obj_borrowed() nogil

def casting_demo():
    cdef PyObject* c_ptr = get_obj_borrowed() # Borrowed reference
    if c_ptr == NULL: return

    # Option 1: Cython takes ownership
    # The cast <object>c_ptr INCREFs c_ptr.
    # cy_obj now holds an owned reference.
    cdef object cy_obj = <object>c_ptr
    print(f"Refcount after <object> cast: {c_ptr.ob_refcnt}") # Should be at least 2

    # Option 2: Manual management (if not casting to Cython object type)
    Py_INCREF(c_ptr) # Manually take ownership
    print(f"Refcount after manual INCREF: {c_ptr.ob_refcnt}")
    # ... use c_ptr ...
    Py_DECREF(c_ptr) # Manually release ownership
    print(f"Refcount after manual DECREF: {c_ptr.ob_refcnt}")

    # cy_obj goes out of scope, Cython automatically DECREFs its reference.
