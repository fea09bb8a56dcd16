# c_interface.pyx
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.object cimport PyObject

# Assume these C functions exist in "my_c_library.h"
cdef extern from "my_c_library.h":
    PyObject* get_global_item_borrowed() nogil # Returns borrowed ref
    PyObject* create_new_item() nogil          # Returns new ref
    void process_item(PyObject* item) nogil    # Consumes a reference (steals)

def interact_with_c_lib():
    cdef PyObject* c_obj_borrowed
    cdef PyObject* c_obj_new
    cdef object py_obj_managed_borrowed
    cdef object py_obj_managed_new

    # Scenario 1: Handling a borrowed reference
    c_obj_borrowed = get_global_item_borrowed()
    if c_obj_borrowed != NULL: # Always check for NULL
        Py_INCREF(c_obj_borrowed) # Must INCREF to own it
        # Cast to Cython object for easier management; refcount is now 2
        # (1 from original owner, 1 from us). Cython will DECREF its ref.
        py_obj_managed_borrowed = <object>c_obj_borrowed
        # If we didn't cast to <object>, we'd need to manually DECREF later:
        # Py_DECREF(c_obj_borrowed)
        print(f"Borrowed and INCREF'd: {py_obj_managed_borrowed}")
        # py_obj_managed_borrowed goes out of scope, Cython DECREFs its ref.
        # Original ref still held by C library.

    # Scenario 2: Handling a new reference
    c_obj_new = create_new_item()
    if c_obj_new == NULL:
        raise MemoryError("Failed to create new C item")
    # c_obj_new is a new reference. We own it.
    # Cast to Cython object. Cython now manages this new reference.
    py_obj_managed_new = <object>c_obj_new
    # No need for extra INCREF. If we don't cast to <object>,
    # we MUST manually call Py_DECREF(c_obj_new) when done.
    print(f"New C item: {py_obj_managed_new}")
    # py_obj_managed_new goes out of scope, Cython DECREFs it.

    # Scenario 3: Passing an object that will be "stolen"
    # Create a Python object that Cython manages
    my_data_to_pass = {"key": "value"}
    # INCREF before passing if the C function steals a reference
    # and we still want to use my_data_to_pass in Cython afterwards.
    # If process_item truly steals (like PyList_SetItem),
    # and we pass it directly without an extra INCREF here,
    # then my_data_to_pass (the Cython variable) would become a
    # dangling reference IF Cython attempts to DECREF it at scope end
    # after C has already DECREF'd its stolen reference to 0.
    # Best practice: if C steals, and you want to keep using it in Cython,
    # INCREF before passing, or pass a copy.
    # For this example, let's assume `process_item` expects a valid ref
    # but we don't need `my_data_to_pass` afterwards, so direct pass is fine.
    # If `process_item` documentation is unclear, safer to INCREF.
    # Py_INCREF(<PyObject*>my_data_to_pass) # If unsure or need it later
    process_item(<PyObject*>my_data_to_pass)
    # If we did INCREF, then: Py_DECREF(<PyObject*>my_data_to_pass)
