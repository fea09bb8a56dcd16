#include "boxes.h"

/* A new reference, or NULL with an exception. */
PyObject *
make_pair(PyObject *a, PyObject *b)
{
    PyObject *t = PyTuple_New(2);
    if (t == NULL)
        return NULL;
    Py_INCREF(a);
    PyTuple_SET_ITEM(t, 0, a);
    Py_INCREF(b);
    PyTuple_SET_ITEM(t, 1, b);
    return t;
}

/* Takes over `item` when it succeeds (the registry holds it). */
int
keep(PyObject *registry, PyObject *item)
{
    int r = PyList_Append(registry, item);
    if (r >= 0) {
        Py_DECREF(item);
    }
    return r;
}
