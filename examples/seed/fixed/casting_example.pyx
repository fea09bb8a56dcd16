# casting_example.pyx, corrected: no `ob_refcnt` reads (wrong for immortal
# objects and free-threaded builds), refcount calls that accept the types
# they are given.
from cpython.ref cimport Py_REFCNT, Py_XINCREF, Py_XDECREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* get_obj_borrowed() nogil  # refsan: returns borrowed

def casting_demo():
    cdef PyObject* c_ptr = get_obj_borrowed() # Borrowed reference
    if c_ptr == NULL: return

    # The cast <object>c_ptr takes a reference of its own for cy_obj.
    cdef object cy_obj = <object>c_ptr
    print(f"Refcount after <object> cast: {Py_REFCNT(cy_obj)}")

    # Manual management of the raw pointer: nothing that can raise runs
    # between the INCREF and its DECREF, so no path skips the DECREF.
    Py_XINCREF(c_ptr)
    cdef Py_ssize_t after_incref = Py_REFCNT(cy_obj)
    Py_XDECREF(c_ptr)
    print(f"Refcount after manual INCREF: {after_incref}")
    print(f"Refcount after manual DECREF: {Py_REFCNT(cy_obj)}")
