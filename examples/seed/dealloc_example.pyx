# dealloc_example.pyx
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* get_c_object_new_ref() nogil # Returns new reference
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

    # __dealloc__ is for releasing C memory, PyObject references, etc.
    def __dealloc__(self):
        print(f"MyDataWrapper dealloc: releasing {<object>self._c_owned_object}")
        Py_DECREF(self._c_owned_object) # We owned it, so we DECREF
        self._c_owned_object = NULL # Good practice to NULL out dangling pointers

    def get_data(self):
        return (self._some_other_data, <object>self._c_owned_object)

# Usage
# wrapper = MyDataWrapper(10)
# print(wrapper.get_data())
# del wrapper # Triggers __dealloc__ if refcount becomes 0
