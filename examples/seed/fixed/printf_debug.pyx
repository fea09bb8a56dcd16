# printf_debug.pyx, corrected: the refcount is read with Py_REFCNT (declared
# for a raw pointer here), never through `ob_refcnt`.
from cpython.ref cimport Py_XINCREF, Py_XDECREF
from cpython.object cimport PyObject

cdef extern from "stdio.h" nogil:
    int printf(const char *format, ...)

cdef extern from "Python.h":
    Py_ssize_t raw_refcnt "Py_REFCNT" (PyObject* o)

cdef void inspect_object_refcount(PyObject* obj_ptr, const char* label):
    printf("[%s] Addr: %p, Refcount: %zd\n",
           label, obj_ptr, raw_refcnt(obj_ptr) if obj_ptr else 0)

def function_to_debug(some_list):
    if not some_list:
        return

    cdef PyObject* item_ptr = <PyObject*>some_list # Borrowed
    inspect_object_refcount(item_ptr, "Initial item_ptr (borrowed)")

    Py_XINCREF(item_ptr)
    inspect_object_refcount(item_ptr, "After INCREF")

    Py_XDECREF(item_ptr) # The DECREF for our INCREF
    inspect_object_refcount(item_ptr, "After final DECREF")
