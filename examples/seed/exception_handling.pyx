# exception_handling.pyx
from cpython.ref cimport Py_DECREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* create_resource() nogil   # Returns new reference
    int use_resource(PyObject* res) nogil # Returns 0 on success, -1 on error
    void free_raw_resource(PyObject* res) nogil # Example C cleanup

def process_with_resource():
    cdef PyObject* resource_ptr = create_resource()
    if resource_ptr == NULL:
        raise MemoryError("Failed to create C resource")

    try:
        # Convert to Cython object for easier use, Cython now owns the ref.
        # This is not strictly necessary if only C functions use resource_ptr.
        # If we keep it as PyObject* and an error occurs, we must DECREF.
        # Let's show manual management for this example.

        # If use_resource could raise a Python exception via Cython,
        # Cython's try-except would catch it. Here we assume it returns an error code.
        if use_resource(resource_ptr) == -1:
            # Maybe it sets a C error indicator that we translate
            raise ValueError("C resource usage failed")
        print("Resource used successfully")
    finally:
        # This block executes whether an exception occurred or not.
        # Essential for freeing resources or DECREF'ing.
        Py_DECREF(resource_ptr) # We owned this new reference
        # If resource_ptr was, say, a file handle not a PyObject,
        # you would call the C cleanup: free_raw_resource(resource_ptr)
