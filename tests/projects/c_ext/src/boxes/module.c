#include "boxes.h"

static PyObject *registry;

/* BUG: the pair from make_pair() (pairs.c) leaks when the append fails. */
static PyObject *
pair_into(PyObject *self, PyObject *args)
{
    PyObject *a, *b, *list;
    if (!PyArg_ParseTuple(args, "OOO", &list, &a, &b))
        return NULL;
    PyObject *pair = make_pair(a, b);
    if (unlikely(pair == NULL))
        return NULL;
    if (PyList_Append(list, a) < 0)
        return NULL;
    if (PyList_Append(list, pair) < 0) {
        Py_DECREF(pair);
        return NULL;
    }
    Py_DECREF(pair);
    Py_RETURN_NONE;
}

/* Correct: the pair is released on every path. */
static PyObject *
pair_into_ok(PyObject *self, PyObject *args)
{
    PyObject *a, *b, *list;
    if (!PyArg_ParseTuple(args, "OOO", &list, &a, &b))
        return NULL;
    PyObject *pair = make_pair(a, b);
    if (unlikely(pair == NULL))
        return NULL;
    int r = PyList_Append(list, pair);
    Py_DECREF(pair);
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* BUG: the number from box_int() (PyLong_FromLong) leaks on the error path. */
static PyObject *
count_into(PyObject *self, PyObject *list)
{
    PyObject *n = box_int(PyList_GET_SIZE(list));
    if (likely(n != NULL)) {
        if (PyList_Append(list, Py_None) < 0)
            return NULL;
    }
    return n;
}

/* Correct: keep() (pairs.c) takes the pair over when it succeeds. */
static PyObject *
remember(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO", &a, &b))
        return NULL;
    PyObject *pair = make_pair(a, b);
    if (pair == NULL)
        return NULL;
    if (keep(registry, pair) < 0) {
        Py_DECREF(pair);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Correct: label_for() (labels.c) may give the NO_LABEL sentinel. */
static PyObject *
relabel(PyObject *self, PyObject *arg)
{
    PyObject *label = label_for(PyUnicode_AsUTF8(arg));
    if (label == NULL)
        return NULL;
    if (label == NO_LABEL)
        Py_RETURN_NONE;
    return label;
}

typedef struct {
    PyObject *value;   /* kept alive by the registry */
} node_t;

/* Correct: keep() (pairs.c) takes the value over when it succeeds, the
   node only points to it; on failure the value is released. */
static int
set_const(node_t *node, PyObject *val)
{
    if (keep(registry, val) < 0) {
        Py_DECREF(val);
        return -1;
    }
    node->value = val;
    return 0;
}

/* Correct: set_const() takes `v` over on every path. */
static PyObject *
fold(PyObject *self, PyObject *arg)
{
    node_t node;
    PyObject *v = PyNumber_Add(arg, arg);
    if (v == NULL)
        return NULL;
    if (set_const(&node, v) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* BUG: `label` is not released (the struct is declared in boxes.h). */
static void
Box_dealloc(BoxObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weaklist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_XDECREF(self->payload);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Box_traverse(BoxObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->payload);
    Py_VISIT(self->label);
    return 0;
}

static int
Box_init(BoxObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *payload = NULL;
    if (!PyArg_ParseTuple(args, "O", &payload))
        return -1;
    Py_INCREF(payload);
    Py_XSETREF(self->payload, payload);
    Py_XSETREF(self->label, PyUnicode_FromString("box"));
    self->owner_type = (PyObject *)Py_TYPE(self);
    return 0;
}

/* BUG: `payload` is borrowed from the box, and describe_into() (labels.c)
   runs its __repr__, which can re-initialise the box and free it. */
static PyObject *
Box_show(BoxObject *self, PyObject *list)
{
    PyObject *payload = self->payload;
    if (payload == NULL)
        Py_RETURN_NONE;
    if (describe_into(list, payload) < 0)
        return NULL;
    return PyObject_Str(payload);
}

/* The same with a reference of its own across the call. */
static PyObject *
Box_show_ok(BoxObject *self, PyObject *list)
{
    PyObject *payload = self->payload;
    if (payload == NULL)
        Py_RETURN_NONE;
    Py_INCREF(payload);
    if (describe_into(list, payload) < 0) {
        Py_DECREF(payload);
        return NULL;
    }
    PyObject *s = PyObject_Str(payload);
    Py_DECREF(payload);
    return s;
}

static PyMethodDef Box_methods[] = {
    {"show", (PyCFunction)Box_show, METH_O, NULL},
    {"show_ok", (PyCFunction)Box_show_ok, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Box_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "boxes.Box",
    .tp_basicsize = sizeof(BoxObject),
    .tp_dealloc = (destructor)Box_dealloc,
    .tp_traverse = (traverseproc)Box_traverse,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_init = (initproc)Box_init,
    .tp_methods = Box_methods,
    .tp_weaklistoffset = offsetof(BoxObject, weaklist),
};

/* The tuple goes through the header's `checked()` and is returned. */
static PyObject *
empty_pair(PyObject *self, PyObject *unused)
{
    PyObject *pair = checked(PyTuple_New(0), "a pair");
    if (pair == NULL)
        return NULL;
    return pair;
}

/* The dict goes through `checked()` and is then forgotten. */
static PyObject *
count_keys(PyObject *self, PyObject *arg)
{
    PyObject *keys = checked(PyDict_New(), "the keys");
    if (keys == NULL)
        return NULL;
    if (PyDict_SetItem(keys, arg, Py_None) < 0)
        return NULL;
    return PyLong_FromSsize_t(PyDict_GET_SIZE(keys));
}

static PyMethodDef methods[] = {
    {"empty_pair", empty_pair, METH_NOARGS, NULL},
    {"count_keys", count_keys, METH_O, NULL},
    {"pair_into", pair_into, METH_VARARGS, NULL},
    {"pair_into_ok", pair_into_ok, METH_VARARGS, NULL},
    {"count_into", count_into, METH_O, NULL},
    {"remember", remember, METH_VARARGS, NULL},
    {"relabel", relabel, METH_O, NULL},
    {"fold", fold, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "boxes", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit_boxes(void)
{
    if (PyType_Ready(&Box_Type) < 0)
        return NULL;
    registry = PyList_New(0);
    if (registry == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    Py_INCREF(&Box_Type);
    if (PyModule_AddObject(m, "Box", (PyObject *)&Box_Type) < 0) {
        Py_DECREF(&Box_Type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
