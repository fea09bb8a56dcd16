# printf_debug.pyx
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.object cimport PyObject

# For printf, you need to cimport C's stdio.h
cdef extern from "stdio.h" nogil:
    int printf(const char *format, ...)

cdef void inspect_object_refcount(PyObject* obj_ptr, const char* label):
    # This must be nogil if called from nogil context, or manage GIL
    # For simplicity, assume GIL is held or not an issue for this debug print
    printf("[%s] Addr: %p, Refcount: %zd\n",
           label, obj_ptr, obj_ptr.ob_refcnt if obj_ptr else 0)

def function_to_debug(some_list):
    if not some_list:
        return

    cdef PyObject* item_ptr = <PyObject*>some_list # Borrowed
    inspect_object_refcount(item_ptr, "Initial item_ptr (borrowed)")

    Py_INCREF(item_ptr)
    inspect_object_refcount(item_ptr, "After INCREF")

    # ... some operations ...
    # Simulating a potential double DECREF or premature DECREF
    # Py_DECREF(item_ptr)
    # inspect_object_refcount(item_ptr, "After 1st DECREF (oops?)")

    Py_DECREF(item_ptr) # The correct DECREF for our INCREF
    inspect_object_refcount(item_ptr, "After final DECREF")
