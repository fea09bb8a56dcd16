# good_practice.pyx
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.object cimport PyObject

# Cython handles refcounting automatically for typed objects
cdef object create_list_cython():
    my_list = []  # Cython manages my_list
    return my_list

# Manual refcounting if using raw PyObject* (more error-prone)
# cdef PyObject* create_list_manual_c_api():
#    cdef PyObject* py_list = PyList_New(3)
#    if not py_list:
#        raise MemoryError()
#    # PyList_SetItem steals references, so create new ones for integers
#    # ... (complex manual item creation and SetItem calls) ...
#    # This returns a NEW reference, caller must DECREF
#    return py_list
