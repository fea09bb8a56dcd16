# c_interface.pyx, corrected.
from cpython.ref cimport Py_INCREF
from cpython.object cimport PyObject

cdef extern from "my_c_library.h":
    PyObject* get_global_item_borrowed() nogil  # refsan: returns borrowed
    # Declared as returning `object`: Cython takes over the new reference
    # (and checks for NULL).
    object create_new_item()
    void process_item(PyObject* item) nogil  # refsan: steals 1

def interact_with_c_lib():
    cdef PyObject* c_obj_borrowed
    cdef object py_obj_managed_borrowed
    cdef object py_obj_managed_new

    # Scenario 1: `<object>` takes a reference of its own; no manual INCREF.
    c_obj_borrowed = get_global_item_borrowed()
    if c_obj_borrowed != NULL:
        py_obj_managed_borrowed = <object>c_obj_borrowed
        print(f"Borrowed: {py_obj_managed_borrowed}")

    # Scenario 2: the new reference goes straight to a Cython variable.
    py_obj_managed_new = create_new_item()
    print(f"New C item: {py_obj_managed_new}")

    # Scenario 3: process_item steals a reference, so it gets one of its own.
    my_data_to_pass = {"key": "value"}
    Py_INCREF(my_data_to_pass)
    process_item(<PyObject*>my_data_to_pass)
