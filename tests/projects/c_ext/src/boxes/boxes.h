/* What the three sources of the extension share. */
#ifndef BOXES_H
#define BOXES_H
#include <Python.h>

#define BOXES_INTERNAL __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* An alias of an API function. */
#define box_int PyLong_FromLong
/* A sentinel: not an object. */
#define NO_LABEL ((PyObject *)1)

typedef struct {
    PyObject_HEAD
    PyObject *payload;
    PyObject *label;
    PyObject *weaklist;
    PyObject *owner_type;   /* borrowed: the module state's type */
} BoxObject;

BOXES_INTERNAL PyObject *make_pair(PyObject *a, PyObject *b);
BOXES_INTERNAL int keep(PyObject *registry, PyObject *item);
BOXES_INTERNAL PyObject *label_for(const char *name);
BOXES_INTERNAL int describe_into(PyObject *list, PyObject *obj);

/* Passes a result through, with a message in place of the exception
   when it is NULL: the caller owns what it returns. */
static inline PyObject *
checked(PyObject *result, const char *what)
{
    if (result == NULL && PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Format(PyExc_RuntimeError, "out of memory making %s", what);
    }
    return result;
}
#endif
