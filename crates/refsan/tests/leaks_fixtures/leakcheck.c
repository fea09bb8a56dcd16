/* Functions with deliberate reference-counting mistakes, each next to its
 * corrected version; `refsan leaks` must report the first of every pair and
 * stay quiet on the second. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Leaks a new list on every call: the reference from PyList_New is never
 * released. */
static PyObject *
leak_new_list(PyObject *self, PyObject *unused)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
new_list_fixed(PyObject *self, PyObject *unused)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    Py_DECREF(list);
    Py_RETURN_NONE;
}

/* Returns len(items) + 1 for a list; raises TypeError otherwise, and on that
 * error path forgets the scratch list it built. */
static PyObject *
leak_on_error(PyObject *self, PyObject *items)
{
    PyObject *scratch = PyList_New(0);
    if (scratch == NULL) {
        return NULL;
    }
    if (!PyList_Check(items)) {
        PyErr_SetString(PyExc_TypeError, "leak_on_error expects a list");
        return NULL; /* scratch leaks here */
    }
    Py_ssize_t n = PyList_GET_SIZE(items);
    Py_DECREF(scratch);
    return PyLong_FromSsize_t(n + 1);
}

static PyObject *
on_error_fixed(PyObject *self, PyObject *items)
{
    PyObject *scratch = PyList_New(0);
    if (scratch == NULL) {
        return NULL;
    }
    if (!PyList_Check(items)) {
        Py_DECREF(scratch);
        PyErr_SetString(PyExc_TypeError, "on_error_fixed expects a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(items);
    Py_DECREF(scratch);
    return PyLong_FromSsize_t(n + 1);
}

/* Takes a reference to its (borrowed) argument and never releases it: no
 * memory grows, the argument's reference count does. */
static PyObject *
incref_argument(PyObject *self, PyObject *arg)
{
    Py_INCREF(arg);
    Py_RETURN_NONE;
}

static PyObject *
argument_fixed(PyObject *self, PyObject *arg)
{
    Py_INCREF(arg);
    Py_DECREF(arg);
    Py_RETURN_NONE;
}

/* Releases a reference it does not own: the caller's argument loses one
 * reference per call and is freed while still in use after a few calls. */
static PyObject *
decref_borrowed(PyObject *self, PyObject *arg)
{
    Py_DECREF(arg);
    Py_RETURN_NONE;
}

static PyObject *
borrowed_fixed(PyObject *self, PyObject *arg)
{
    (void)arg;
    Py_RETURN_NONE;
}

/* Dereferences NULL: for the crash hand-over. */
static PyObject *
crash_now(PyObject *self, PyObject *unused)
{
    PyObject *volatile nothing = NULL;
    PyObject *type = (PyObject *)Py_TYPE(nothing);
    Py_INCREF(type);
    return type;
}

/* Never returns: for --timeout. */
static PyObject *
spin_forever(PyObject *self, PyObject *unused)
{
    volatile unsigned long spins = 0;
    for (;;) {
        spins++;
    }
    Py_RETURN_NONE;
}

static PyMethodDef leakcheck_methods[] = {
    {"leak_new_list", leak_new_list, METH_NOARGS, NULL},
    {"new_list_fixed", new_list_fixed, METH_NOARGS, NULL},
    {"leak_on_error", leak_on_error, METH_O, NULL},
    {"on_error_fixed", on_error_fixed, METH_O, NULL},
    {"incref_argument", incref_argument, METH_O, NULL},
    {"argument_fixed", argument_fixed, METH_O, NULL},
    {"decref_borrowed", decref_borrowed, METH_O, NULL},
    {"borrowed_fixed", borrowed_fixed, METH_O, NULL},
    {"crash_now", crash_now, METH_NOARGS, NULL},
    {"spin_forever", spin_forever, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef leakcheck_module = {
    PyModuleDef_HEAD_INIT, "leakcheck", NULL, -1, leakcheck_methods,
};

PyMODINIT_FUNC
PyInit_leakcheck(void)
{
    return PyModule_Create(&leakcheck_module);
}
