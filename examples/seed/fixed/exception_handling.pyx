# exception_handling.pyx, corrected: releases the raw reference with a
# call that accepts a `PyObject*`.
from cpython.ref cimport Py_XDECREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* create_resource() nogil   # refsan: returns new
    int use_resource(PyObject* res) nogil # Returns 0 on success, -1 on error
    void free_raw_resource(PyObject* res) nogil # Example C cleanup

def process_with_resource():
    cdef PyObject* resource_ptr = create_resource()
    if resource_ptr == NULL:
        raise MemoryError("Failed to create C resource")

    try:
        if use_resource(resource_ptr) == -1:
            raise ValueError("C resource usage failed")
        print("Resource used successfully")
    finally:
        Py_XDECREF(resource_ptr)  # we owned this new reference
