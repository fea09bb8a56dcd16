/*
 * wordstats: a small word-counting extension module.
 *
 * It is written the way extension code often is: mostly right, with a few
 * reference-counting mistakes of the kinds that ship. `refsan check
 * examples/` reports each one; the functions without a BUG comment are
 * correct and produce no finding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>   /* offsetof */

/* tokenize(text) -> list of words (correct). */
static PyObject *
tokenize(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str");
        return NULL;
    }
    PyObject *lowered = PyObject_CallMethod(text, "lower", NULL);
    if (lowered == NULL)
        return NULL;
    PyObject *words = PyUnicode_Split(lowered, NULL, -1);
    Py_DECREF(lowered);
    return words;
}

/* count_words(words) -> {word: count} */
static PyObject *
count_words(PyObject *module, PyObject *words)
{
    PyObject *counts = PyDict_New();
    if (counts == NULL)
        return NULL;
    PyObject *iter = PyObject_GetIter(words);
    if (iter == NULL) {
        Py_DECREF(counts);
        return NULL;
    }
    PyObject *word;
    while ((word = PyIter_Next(iter)) != NULL) {
        PyObject *old = PyDict_GetItemWithError(counts, word);
        if (old == NULL && PyErr_Occurred()) {
            Py_DECREF(word);
            goto error;
        }
        long n = old ? PyLong_AsLong(old) + 1 : 1;
        /* BUG (RS101): PyDict_SetItem does not steal the new int */
        if (PyDict_SetItem(counts, word, PyLong_FromLong(n)) < 0) {
            Py_DECREF(word);
            goto error;
        }
        Py_DECREF(word);
    }
    Py_DECREF(iter);
    if (PyErr_Occurred()) {
        Py_DECREF(counts);
        return NULL;
    }
    return counts;
error:
    Py_DECREF(iter);
    Py_DECREF(counts);
    return NULL;
}

/* most_common(counts) -> [(word, count), ...] */
static PyObject *
most_common(PyObject *module, PyObject *counts)
{
    if (!PyDict_Check(counts)) {
        PyErr_SetString(PyExc_TypeError, "counts must be a dict");
        return NULL;
    }
    PyObject *result = PyList_New(0);
    if (result == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(counts, &pos, &key, &value)) {
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        /* BUG (RS105): key and value are borrowed from the dict */
        PyTuple_SET_ITEM(pair, 0, key);
        PyTuple_SET_ITEM(pair, 1, Py_NewRef(value));
        int rc = PyList_Append(result, pair);
        Py_DECREF(pair);
        if (rc < 0) {
            Py_DECREF(result);
            return NULL;
        }
    }
    return result;
}

/* first_word(text) -> str */
static PyObject *
first_word(PyObject *module, PyObject *text)
{
    PyObject *words = tokenize(module, text);
    if (words == NULL)
        return NULL;
    if (PyList_GET_SIZE(words) == 0) {
        Py_DECREF(words);
        Py_RETURN_NONE;
    }
    PyObject *first = PyList_GET_ITEM(words, 0);
    Py_DECREF(words);
    /* BUG (RS103): `first` was borrowed from `words`, which is gone */
    return Py_NewRef(first);
}

/* join_words(words, sep) -> str (correct) */
static PyObject *
join_words(PyObject *module, PyObject *args)
{
    PyObject *words;
    const char *sep = " ";
    if (!PyArg_ParseTuple(args, "O|s:join_words", &words, &sep))
        return NULL;
    PyObject *sep_obj = PyUnicode_FromString(sep);
    if (sep_obj == NULL)
        return NULL;
    PyObject *joined = PyUnicode_Join(sep_obj, words);
    Py_DECREF(sep_obj);
    return joined;
}

/* ---- Counter type ---- */

typedef struct {
    PyObject_HEAD
    PyObject *counts;       /* dict: word -> int */
    PyObject *name;         /* str */
    PyObject *weakreflist;
} CounterObject;

static int
Counter_init(CounterObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", NULL};
    PyObject *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|U", kwlist, &name))
        return -1;
    PyObject *counts = PyDict_New();
    if (counts == NULL)
        return -1;
    Py_XSETREF(self->counts, counts);
    if (name == NULL)
        name = PyUnicode_FromString("counter");
    else
        Py_INCREF(name);
    if (name == NULL)
        return -1;
    Py_XSETREF(self->name, name);
    return 0;
}

static int
Counter_traverse(CounterObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->counts);
    Py_VISIT(self->name);
    return 0;
}

/* BUG (RS301): self->name is never released */
static void
Counter_dealloc(CounterObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_XDECREF(self->counts);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Counter.add(word): increment the count of `word` */
static PyObject *
Counter_add(CounterObject *self, PyObject *word)
{
    PyObject *one = NULL, *total = NULL;
    one = PyLong_FromLong(1);
    if (one == NULL)
        goto error;
    PyObject *old = PyDict_GetItemWithError(self->counts, word);
    if (old == NULL) {
        if (PyErr_Occurred())
            goto error;
        if (PyDict_SetItem(self->counts, word, one) < 0)
            goto error;
        Py_DECREF(one);
        Py_RETURN_NONE;
    }
    total = PyNumber_Add(old, one);
    if (total == NULL)
        goto error;
    if (PyDict_SetItem(self->counts, word, total) < 0)
        goto error;
    Py_DECREF(total);
    /* BUG (RS101): `one` leaks on this path */
    Py_RETURN_NONE;
error:
    Py_XDECREF(one);
    Py_XDECREF(total);
    return NULL;
}

/* Counter.get(word) -> int */
static PyObject *
Counter_get(CounterObject *self, PyObject *word)
{
    PyObject *n = PyDict_GetItem(self->counts, word);
    /* BUG (RS109): PyDict_GetItem sets no exception when the word is missing */
    if (n == NULL)
        return NULL;
    return Py_NewRef(n);
}

/* Counter.summary() -> (name, number of words) */
static PyObject *
Counter_summary(CounterObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = PyDict_GET_SIZE(self->counts);
    /* BUG (RS202): "N" steals a reference to the borrowed self->name */
    return Py_BuildValue("(Nn)", self->name, n);
}

/* Counter.reset() */
static PyObject *
Counter_reset(CounterObject *self)      /* METH_NOARGS passes two arguments: see the table */
{
    PyDict_Clear(self->counts);
    Py_RETURN_NONE;
}

/* Counter.items() -> list (correct) */
static PyObject *
Counter_items(CounterObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyDict_Items(self->counts);
}

static PyMethodDef Counter_methods[] = {
    {"add", (PyCFunction)Counter_add, METH_O, "Count one occurrence of a word."},
    {"get", (PyCFunction)Counter_get, METH_O, "The count of a word."},
    {"summary", (PyCFunction)Counter_summary, METH_NOARGS, "(name, number of words)"},
    /* BUG (RS203): METH_NOARGS calls Counter_reset with two arguments */
    {"reset", (PyCFunction)Counter_reset, METH_NOARGS, "Forget every count."},
    {"items", (PyCFunction)Counter_items, METH_NOARGS, "The (word, count) pairs."},
    {NULL, NULL, 0, NULL}
};

static PyTypeObject Counter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wordstats.Counter",
    .tp_basicsize = sizeof(CounterObject),
    .tp_dealloc = (destructor)Counter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Counts words.",
    .tp_traverse = (traverseproc)Counter_traverse,
    .tp_weaklistoffset = offsetof(CounterObject, weakreflist),
    .tp_methods = Counter_methods,
    .tp_init = (initproc)Counter_init,
    .tp_new = PyType_GenericNew,
};

/* ---- module ---- */

static PyMethodDef wordstats_methods[] = {
    {"tokenize", tokenize, METH_O, "Split text into lower-case words."},
    {"count_words", count_words, METH_O, "Count each word of an iterable."},
    {"most_common", most_common, METH_O, "The (word, count) pairs of a dict."},
    {"first_word", first_word, METH_O, "The first word of a text, or None."},
    {"join_words", join_words, METH_VARARGS, "Join words with a separator."},
    {NULL, NULL, 0, NULL}
};

static int
wordstats_exec(PyObject *m)
{
    if (PyType_Ready(&Counter_Type) < 0)
        return -1;
    /* BUG (RS105): PyModule_AddObject steals a reference we never took */
    if (PyModule_AddObject(m, "Counter", (PyObject *)&Counter_Type) < 0)
        return -1;
    PyObject *version = PyUnicode_FromString("1.0");
    if (version == NULL)
        return -1;
    /* BUG (RS106): on failure PyModule_AddObject does not steal `version` */
    if (PyModule_AddObject(m, "__version__", version) < 0)
        return -1;
    /* correct: PyModule_AddObjectRef never steals */
    PyObject *sep = PyUnicode_FromString(" ");
    if (sep == NULL)
        return -1;
    int rc = PyModule_AddObjectRef(m, "DEFAULT_SEPARATOR", sep);
    Py_DECREF(sep);
    return rc;
}

static PyModuleDef_Slot wordstats_slots[] = {
    {Py_mod_exec, wordstats_exec},
    {0, NULL}
};

static struct PyModuleDef wordstats_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "wordstats",
    .m_doc = "Word statistics.",
    .m_size = 0,
    .m_methods = wordstats_methods,
    .m_slots = wordstats_slots,
};

PyMODINIT_FUNC
PyInit_wordstats(void)
{
    return PyModuleDef_Init(&wordstats_module);
}
