#include "boxes.h"

/* NO_LABEL for the empty name, else a new string. */
PyObject *
label_for(const char *name)
{
    if (name[0] == '\0')
        return NO_LABEL;
    return PyUnicode_FromString(name);
}

/* Appends repr(obj) to `list`: runs the object's __repr__. */
int
describe_into(PyObject *list, PyObject *obj)
{
    PyObject *r = PyObject_Repr(obj);
    if (r == NULL)
        return -1;
    int err = PyList_Append(list, r);
    Py_DECREF(r);
    return err;
}
