# dealloc_example.pyx, corrected: `__dealloc__` runs even when `__cinit__`
# raised before the attribute was set, so it must accept NULL.
from cpython.ref cimport Py_CLEAR
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* get_c_object_new_ref() nogil # refsan: returns new
    void release_c_object(PyObject* obj) nogil # Hypothetical C release func

cdef class MyDataWrapper:
    cdef PyObject* _c_owned_object  # We will own this reference
    cdef int _some_other_data

    def __cinit__(self, int data_val):
        self._c_owned_object = get_c_object_new_ref()
        if self._c_owned_object == NULL:
            raise MemoryError("Failed to acquire C object in MyDataWrapper")
        self._some_other_data = data_val
        print(f"MyDataWrapper cinit: acquired {<object>self._c_owned_object}")

    def __dealloc__(self):
        # NULL when __cinit__ failed; Py_CLEAR accepts NULL and resets it.
        Py_CLEAR(self._c_owned_object)

    def get_data(self):
        return (self._some_other_data, <object>self._c_owned_object)
