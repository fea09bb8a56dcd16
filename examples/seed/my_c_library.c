/* Implementation of my_c_library.h; see there for the ownership rules. */
#include "my_c_library.h"
#include <stdlib.h>

static PyObject *sentinel;    /* owned by the library */
static PyObject *global_item; /* owned by the library */
static PyObject *processed;   /* the items process_item() took over */

static PyObject *the_sentinel(void)
{
    if (sentinel == NULL) {
        sentinel = PyUnicode_FromString("my_c_library sentinel");
    }
    return sentinel;
}

PyObject *my_c_library_sentinel(void)
{
    PyObject *s = the_sentinel();
    Py_XINCREF(s);
    return s;
}

/* A fresh list holding the sentinel: a new reference. */
static PyObject *new_marked_list(void)
{
    PyObject *s = the_sentinel();
    if (s == NULL) {
        return NULL;
    }
    PyObject *list = PyList_New(1);
    if (list == NULL) {
        return NULL;
    }
    Py_INCREF(s);
    PyList_SET_ITEM(list, 0, s);
    return list;
}

PyObject *get_global_item_borrowed(void)
{
    if (global_item == NULL) {
        global_item = new_marked_list();
    }
    return global_item;
}

PyObject *get_obj_borrowed(void)
{
    return get_global_item_borrowed();
}

PyObject *create_new_item(void)
{
    return new_marked_list();
}

void process_item(PyObject *item)
{
    /* Keeps the item (as PyList_SetItem keeps what it steals): the list
     * takes a reference, and the one the caller gave is released. */
    if (item == NULL) {
        return;
    }
    if (processed == NULL) {
        processed = PyList_New(0);
    }
    if (processed == NULL || PyList_Append(processed, item) < 0) {
        PyErr_Clear();
    }
    Py_DECREF(item);
}

PyObject *my_c_library_processed(void)
{
    if (processed == NULL) {
        processed = PyList_New(0);
    }
    Py_XINCREF(processed);
    return processed;
}

PyObject *create_resource(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    PyObject *s = the_sentinel();
    if (s == NULL || PyDict_SetItemString(d, "marker", s) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

int use_resource(PyObject *res)
{
    return (res != NULL && PyDict_Check(res)) ? 0 : -1;
}

void free_raw_resource(PyObject *res)
{
    Py_XDECREF(res);
}

PyObject *get_c_object_new_ref(void)
{
    const char *fail = getenv("MY_C_LIBRARY_FAIL");
    if (fail != NULL && fail[0] != '\0' && fail[0] != '0') {
        return NULL;
    }
    return new_marked_list();
}

void release_c_object(PyObject *obj)
{
    Py_XDECREF(obj);
}
